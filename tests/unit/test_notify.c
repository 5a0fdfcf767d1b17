/* test_notify: the watchdog is petted from its own timer, only while the sampling loop is alive. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/notify.h"
#include "lib/util.h"
#include "tap.h"

static void test_alive(void)
{
	ok(notify_loop_alive(100000, 0, 500), "a loop waiting for its next tick is alive");
	ok(notify_loop_alive(100000, 99800, 500), "a tick running for 200 ms of 500 is alive");
	ok(!notify_loop_alive(100000, 99500, 500), "a tick running for the whole limit is not");
	ok(!notify_loop_alive(100000, 1000, 500), "a tick stuck for 99 s is not");
}

#ifdef HAVE_SYSTEMD
/* WATCHDOG=1 datagrams that arrive on fd within ms. */
static int count_pets(int fd, int64_t ms)
{
	int n = 0;
	int64_t end = util_mono_ms() + ms;
	for (int64_t left; (left = end - util_mono_ms()) > 0;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		char buf[256];
		ssize_t k = recv(fd, buf, sizeof(buf) - 1, 0);
		if (k <= 0)
			continue;
		buf[k] = '\0';
		n += strstr(buf, "WATCHDOG=1") != NULL;
	}
	return n;
}

/* Waits up to bound_ms for at least want pets; returns how many came. */
static int wait_pets(int fd, int want, int64_t bound_ms)
{
	int n = 0;
	int64_t end = util_mono_ms() + bound_ms;
	while (n < want && util_mono_ms() < end)
		n += count_pets(fd, 100);
	return n;
}

/* Stands in for the sampling loop: 5 ms ticks with 5 ms waits, until told to hang in a tick. */
struct fake_loop {
	int64_t *busy;
	int hang;
};

static void *fake_loop_main(void *arg)
{
	struct fake_loop *fl = arg;
	struct timespec five = { 0, 5000000 };
	for (;;) {
		__atomic_store_n(fl->busy, util_mono_ms(), __ATOMIC_RELEASE);
		if (__atomic_load_n(&fl->hang, __ATOMIC_ACQUIRE))
			return NULL; /* "stuck": busy stays set */
		nanosleep(&five, NULL);
		__atomic_store_n(fl->busy, 0, __ATOMIC_RELEASE);
		nanosleep(&five, NULL);
	}
}

static void test_timer(void)
{
	char dir[] = "/tmp/test-notify.XXXXXX", path[64], env[32];
	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/notify.sock", dir);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "a fake NOTIFY_SOCKET");
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "200000", 1); /* petting every 100 ms */
	snprintf(env, sizeof(env), "%d", (int)getpid());
	setenv("WATCHDOG_PID", env, 1);

	/* The loop is in a tick that began 60 s ago: stuck. */
	int64_t busy = util_mono_ms() - 60000;
	is_int(notify_watchdog_start(&busy), 0, "the watchdog timer starts");
	int stuck = count_pets(fd, 1000);
	is_int(stuck, 0, "a stuck loop is never petted (10 periods watched)");

	/* The loop goes back to waiting for its next tick (a long interval). */
	__atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
	int n = wait_pets(fd, 5, 30000);
	ok(n >= 5, "a loop waiting out a long interval is petted by the timer (%d pets)", n);

	/* A loop busy with short ticks, one after the other. */
	struct fake_loop fl = { .busy = &busy };
	pthread_t th;
	pthread_create(&th, NULL, fake_loop_main, &fl);
	n = wait_pets(fd, 5, 30000);
	ok(n >= 5, "a loop running short ticks back to back is petted (%d pets)", n);
	/* ...until one tick never ends. */
	__atomic_store_n(&fl.hang, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	count_pets(fd, 300); /* a pet decided before the hang may still be in flight */
	is_int(count_pets(fd, 1000), 0, "a tick stuck for longer than half the timeout stops the petting");

	notify_watchdog_stop();
	__atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
	is_int(count_pets(fd, 500), 0, "stopped: no more pets");
	close(fd);
	unlink(path);
	rmdir(dir);
}
#endif

int main(void)
{
	test_alive();
#ifdef HAVE_SYSTEMD
	test_timer();
#else
	printf("# built without libsystemd: the watchdog timer is not compiled in\n");
#endif
	return done_testing();
}
