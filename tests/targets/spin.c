/*
 * spin: burns CPU in one known call chain, for the CPU-profile tests and
 * bench/cpu.
 *
 *   spin [-m plain|qsort|clock|idle] [-t N] [-s MS] [-x MS] [-d MS]
 *     -m plain  main -> handle_request -> compute_digest -> hot_checksum
 *     -m qsort  main -> handle_request -> compute_digest -> qsort (libc)
 *               -> compare_digest -> hot_checksum
 *     -m clock  main -> handle_request -> compute_digest -> stamp_request
 *               -> clock_gettime (libc) -> the vDSO
 *     -m idle   sleeps in nanosleep
 *     -t N      N more threads doing the same work, named worker-1..N (default 0)
 *     -s MS     start those threads one every MS ms instead of at once
 *     -x MS     exit after MS ms, printing "requests N" (the throughput)
 *     -d MS     delay before the work starts (default 0)
 * Prints "ready" once started; SIGTERM/SIGINT end it with "requests N".
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))
/* Keeps the compiler from turning a call into a tail jump. */
#define NO_TAIL() __asm__ volatile("" ::: "memory")

static volatile sig_atomic_t quit;
static uint64_t requests; /* atomic */
static int qsort_mode, clock_mode;

struct item {
	uint32_t key;
	uint8_t data[60];
};

NOINLINE static uint64_t hot_checksum(const uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;
	for (int round = 0; round < 64; round++)
		for (size_t i = 0; i < n; i++)
			h = (h ^ p[i]) * 0x100000001b3ULL;
	NO_TAIL();
	return h;
}

NOINLINE static int compare_digest(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	uint64_t hx = hot_checksum(x->data, sizeof(x->data), x->key);
	uint64_t hy = hot_checksum(y->data, sizeof(y->data), y->key);
	NO_TAIL();
	return hx < hy ? -1 : hx > hy;
}

/* Reads the clock many times: the time goes to the vDSO, which has no file on disk. */
NOINLINE static uint64_t stamp_request(uint64_t salt)
{
	struct timespec ts;
	uint64_t h = salt;
	for (int i = 0; i < 2000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		h += (uint64_t)ts.tv_nsec;
	}
	NO_TAIL();
	return h;
}

NOINLINE static uint64_t compute_digest(struct item *items, size_t n, uint64_t salt)
{
	uint64_t h;
	if (clock_mode) {
		h = stamp_request(salt);
	} else if (qsort_mode) {
		qsort(items, n, sizeof(*items), compare_digest);
		h = items[0].key ^ salt;
	} else {
		h = hot_checksum(items[salt % n].data, sizeof(items[0].data), salt);
	}
	NO_TAIL();
	return h + 1;
}

NOINLINE static uint64_t handle_request(struct item *items, size_t n, uint64_t salt)
{
	uint64_t h = compute_digest(items, n, salt);
	__atomic_add_fetch(&requests, 1, __ATOMIC_RELAXED);
	NO_TAIL();
	return h ^ salt;
}

static void *worker(void *arg)
{
	struct item *items = calloc(16, sizeof(*items));
	uint64_t acc = (uintptr_t)arg;
	char name[16];

	if (acc > 1) {
		snprintf(name, sizeof(name), "worker-%d", (int)(acc - 1));
		pthread_setname_np(pthread_self(), name);
	}
	for (size_t i = 0; i < 16; i++) {
		items[i].key = (uint32_t)(i * 2654435761u);
		memset(items[i].data, (int)i, sizeof(items[i].data));
	}
	while (!quit)
		acc += handle_request(items, 16, acc);
	free(items);
	return (void *)(uintptr_t)acc;
}

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && !quit)
		;
}

static long spawn_n, spawn_every, spawned;

/* Starts the extra workers, at once or one every spawn_every ms. */
static void *spawner(void *arg)
{
	pthread_t *th = arg;
	for (long i = 0; i < spawn_n && !quit; i++) {
		if (spawn_every)
			sleep_ms(spawn_every);
		if (quit)
			break;
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)(i + 2));
		spawned = i + 1;
	}
	return NULL;
}

static void *timer(void *arg)
{
	sleep_ms((long)(intptr_t)arg);
	quit = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = "plain";
	long nthreads = 0, spawn_ms = 0, exit_ms = 0, delay_ms = 0;
	pthread_t th[256], tm;
	int c;

	while ((c = getopt(argc, argv, "m:t:s:x:d:")) != -1) {
		switch (c) {
		case 'm':
			mode = optarg;
			break;
		case 't':
			nthreads = atol(optarg);
			break;
		case 's':
			spawn_ms = atol(optarg);
			break;
		case 'x':
			exit_ms = atol(optarg);
			break;
		case 'd':
			delay_ms = atol(optarg);
			break;
		default:
			fprintf(
			    stderr,
			    "usage: spin [-m plain|qsort|clock|idle] [-t N] [-s MS] [-x MS] [-d MS]\n");
			return 2;
		}
	}
	if (nthreads > 256)
		nthreads = 256;
	qsort_mode = strcmp(mode, "qsort") == 0;
	clock_mode = strcmp(mode, "clock") == 0;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (exit_ms > 0)
		pthread_create(&tm, NULL, timer, (void *)(intptr_t)exit_ms);
	printf("ready\n");
	fflush(stdout);
	if (delay_ms)
		sleep_ms(delay_ms);
	if (strcmp(mode, "idle") == 0) {
		while (!quit)
			sleep_ms(100);
	} else {
		pthread_t sp;
		spawn_n = nthreads;
		spawn_every = spawn_ms;
		pthread_create(&sp, NULL, spawner, th);
		worker((void *)1); /* the main thread works too: its chain ends in _start */
		pthread_join(sp, NULL);
		for (long i = 0; i < spawned; i++)
			pthread_join(th[i], NULL);
	}
	printf("requests %llu\n", (unsigned long long)__atomic_load_n(&requests, __ATOMIC_RELAXED));
	return 0;
}
