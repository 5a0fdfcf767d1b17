/* notify: service-manager notifications (systemd sd_notify); no-ops without libsystemd. */
#include "agent/notify.h"

bool notify_loop_alive(int64_t now_ms, int64_t busy_since_ms, int64_t limit_ms)
{
	return busy_since_ms == 0 || now_ms - busy_since_ms < limit_ms;
}

#ifdef HAVE_SYSTEMD
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"

/*
 * libsystemd is loaded with dlopen, and only when a service manager asked
 * for notifications (NOTIFY_SOCKET is set): linked, it and its compression
 * and crypto libraries were a third of the start-up time of every command,
 * `hound stacks` included, that never notifies anything.
 */
static __typeof__(sd_notify) *notify_fn;
static __typeof__(sd_watchdog_enabled) *watchdog_enabled_fn;
static pthread_once_t notify_once = PTHREAD_ONCE_INIT;

static void notify_load(void)
{
	void *lib;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return;
	notify_fn = (__typeof__(sd_notify) *)dlsym(lib, "sd_notify");
	watchdog_enabled_fn = (__typeof__(sd_watchdog_enabled) *)dlsym(lib, "sd_watchdog_enabled");
}

static void notify_send(const char *state)
{
	pthread_once(&notify_once, notify_load);
	if (notify_fn)
		notify_fn(0, state);
}

static struct {
	pthread_t th;
	bool running, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t period_ms;
	const int64_t *busy_since_ms;
	bool starving; /* logged once per stall */
} wd = { .mu = PTHREAD_MUTEX_INITIALIZER };

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

static void pet_once(void)
{
	int64_t now = util_mono_ms();
	int64_t busy = __atomic_load_n(wd.busy_since_ms, __ATOMIC_ACQUIRE);
	if (notify_loop_alive(now, busy, wd.period_ms)) {
		if (wd.starving)
			log_info("sampling loop is back: petting the watchdog again", NULL);
		wd.starving = false;
		notify_send("WATCHDOG=1");
	} else if (!wd.starving) {
		wd.starving = true;
		log_error("sampling loop stuck: no longer petting the watchdog", "busy_ms=%lld",
			  (long long)(now - busy));
	}
}

static void *watchdog_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wd.mu);
	int64_t next = util_mono_ms();
	while (!wd.stop) {
		if (util_mono_ms() >= next) {
			pet_once();
			next += wd.period_ms;
			if (next < util_mono_ms())
				next = util_mono_ms() + wd.period_ms;
		}
		struct timespec ts = { next / 1000, (next % 1000) * 1000000 };
		pthread_cond_timedwait(&wd.cv, &wd.mu, &ts);
	}
	pthread_mutex_unlock(&wd.mu);
	return NULL;
}

int notify_watchdog_start(const int64_t *busy_since_ms)
{
	uint64_t usec = 0;
	pthread_once(&notify_once, notify_load);
	if (wd.running || !watchdog_enabled_fn || watchdog_enabled_fn(0, &usec) <= 0 || usec == 0)
		return 0;
	wd.period_ms = (int64_t)(usec / 2000);
	if (wd.period_ms < 1)
		wd.period_ms = 1;
	wd.busy_since_ms = busy_since_ms;
	wd.stop = false;
	wd.starving = false;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wd.cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&wd.th, NULL, watchdog_main, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&wd.cv);
		log_error("cannot start the watchdog thread", "error=%s", strerror(rc));
		return -rc;
	}
	wd.running = true;
	log_info("systemd watchdog enabled", "timeout_ms=%lld pet_every_ms=%lld",
		 (long long)(usec / 1000), (long long)wd.period_ms);
	return 0;
}

void notify_watchdog_stop(void)
{
	if (!wd.running)
		return;
	pthread_mutex_lock(&wd.mu);
	wd.stop = true;
	pthread_cond_signal(&wd.cv);
	pthread_mutex_unlock(&wd.mu);
	pthread_join(wd.th, NULL);
	pthread_cond_destroy(&wd.cv);
	wd.running = false;
}
#else
void notify_ready(void) {}
void notify_reloading(void) {}
void notify_stopping(void) {}
int notify_watchdog_start(const int64_t *busy_since_ms)
{
	(void)busy_since_ms;
	return 0;
}
void notify_watchdog_stop(void) {}
#endif
