/* notify: service-manager notifications (systemd sd_notify); no-ops without libsystemd. */
#include "agent/notify.h"

#ifdef HAVE_SYSTEMD
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

/*
 * libsystemd is loaded with dlopen, and only when a service manager asked
 * for notifications (NOTIFY_SOCKET is set): linked, it and its compression
 * and crypto libraries were a third of the start-up time of every command,
 * `hound stacks` included, that never notifies anything.
 */
static __typeof__(sd_notify) *notify_fn;
static pthread_once_t notify_once = PTHREAD_ONCE_INIT;

static void notify_load(void)
{
	void *lib;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (lib)
		notify_fn = (__typeof__(sd_notify) *)dlsym(lib, "sd_notify");
}

static void notify_send(const char *state)
{
	pthread_once(&notify_once, notify_load);
	if (notify_fn)
		notify_fn(0, state);
}

void notify_ready(void)
{
	notify_send("READY=1\nSTATUS=sampling");
}

void notify_reloading(void)
{
	notify_send("RELOADING=1");
}

void notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void notify_watchdog(void)
{
	notify_send("WATCHDOG=1");
}
#else
void notify_ready(void) {}
void notify_reloading(void) {}
void notify_stopping(void) {}
void notify_watchdog(void) {}
#endif
