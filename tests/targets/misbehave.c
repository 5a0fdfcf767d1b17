/*
 * misbehave: a test target with a steady phase, then one kind of trouble.
 *
 *   misbehave MODE STEADY_MS [RATE] [LIMIT]
 *
 * MODE: steady  (never misbehaves)
 *       leak    (allocates and touches RATE KiB every 100 ms, up to LIMIT MiB)
 *       threads (starts RATE sleeping threads per second, up to LIMIT)
 *       fds     (opens RATE fds per second, up to LIMIT)
 *       spin    (burns one core)
 *       exit    (exits with status 0 after the steady phase)
 * On entering the trouble phase it prints "TROUBLE <unix-ms>" on stdout, so a
 * test knows when the condition began. SIGTERM ends it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t done;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void *sleeper(void *arg)
{
	(void)arg;
	while (!done)
		sleep_ms(200);
	return NULL;
}

static volatile unsigned long sink;

__attribute__((noinline)) static void burn(void)
{
	for (unsigned long i = 0; i < 1000000; i++)
		sink += i * i;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: misbehave MODE STEADY_MS [RATE] [LIMIT]\n");
		return 2;
	}
	const char *mode = argv[1];
	long steady = atol(argv[2]);
	long rate = argc > 3 ? atol(argv[3]) : 1024;
	long limit = argc > 4 ? atol(argv[4]) : 512;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* A little steady-state memory so rss is not trivially small. */
	char *base = malloc(4 << 20);
	memset(base, 1, 4 << 20);
	printf("READY %d\n", (int)getpid());
	for (long t = 0; t < steady && !done; t += 50)
		sleep_ms(50);
	if (done)
		return 0;
	printf("TROUBLE %lld\n", now_ms());

	if (!strcmp(mode, "exit"))
		return 0;
	long count = 0;
	while (!done) {
		if (!strcmp(mode, "leak") && count * rate < limit * 1024) {
			char *p = malloc((size_t)rate * 1024);
			if (p)
				memset(p, 0x5a, (size_t)rate * 1024);
			count++;
			sleep_ms(100);
		} else if (!strcmp(mode, "threads") && count < limit) {
			pthread_t th;
			if (pthread_create(&th, NULL, sleeper, NULL) == 0)
				pthread_detach(th);
			count++;
			sleep_ms(1000 / (rate > 0 ? rate : 1));
		} else if (!strcmp(mode, "fds") && count < limit) {
			if (open("/dev/null", O_RDONLY) >= 0)
				count++;
			sleep_ms(1000 / (rate > 0 ? rate : 1));
		} else if (!strcmp(mode, "spin")) {
			burn();
		} else {
			sleep_ms(100);
		}
	}
	return 0;
}
