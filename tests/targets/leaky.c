/*
 * leaky: a native service that leaks memory in one named function while
 * other code allocates and frees as much, for the native heap tests.
 *
 *   leaky MODE [KIB_PER_REQUEST] [REQUESTS_PER_SECOND] [BURST_REQUESTS]
 *
 * MODE: request (each request: scratch_begin allocates and touches KIB,
 *                leak_request_context keeps KIB, touched, scratch_end frees
 *                the scratch, and reserve_untouched keeps a block it never
 *                touches)
 *       calloc   (grow_table leaks through calloc and realloc, between
 *                scratch_begin and scratch_end)
 *       arena    (arena_carve touches anonymous mmap'd arenas it never unmaps)
 *       threads  (four threads handle requests as in `request`)
 *       steady   (allocates and frees, never grows)
 *       burst    (steady until SIGUSR2, then BURST_REQUESTS requests as in
 *                `request` without the untouched block, then steady again;
 *                prints "BURST DONE" and the stats: a known leak in a window)
 *       lazyfree (touches a 64 MiB anonymous mapping, frees it with MADV_FREE,
 *                then is steady: RSS stays up, nothing is live)
 * Prints "READY" once running; SIGUSR1 (and the exit) prints
 * "STATS requests=N leaked=BYTES" (BYTES kept by leak_request_context);
 * SIGTERM ends it. Functions are noinline so
 * each is a real frame at -O2.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static volatile sig_atomic_t done, want_stats, burst_go;
static unsigned long requests, leaked;
static size_t kib = 64;
static long rate = 50;
/* Leaked blocks stay reachable (a real leak usually is: a growing cache). */
static void *volatile kept[1 << 16];
static volatile size_t nkept;
static volatile unsigned long sink;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

static void on_usr2(int sig)
{
	(void)sig;
	burst_go = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	want_stats = 1;
}

static void stats(void)
{
	printf("STATS requests=%lu leaked=%lu\n", __atomic_load_n(&requests, __ATOMIC_RELAXED),
	       __atomic_load_n(&leaked, __ATOMIC_RELAXED));
	fflush(stdout);
}

static void keep(void *p)
{
	kept[__atomic_fetch_add(&nkept, 1, __ATOMIC_RELAXED) % (1 << 16)] = p;
}

NOINLINE static void reserve_untouched(void)
{
	keep(malloc(256 * 1024));
}

static void touch(char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 512)
		p[i] = (char)i;
	sink += (unsigned long)p[n - 1];
}

NOINLINE static void leak_request_context(void)
{
	char *ctx = malloc(kib * 1024);
	if (ctx) {
		touch(ctx, kib * 1024);
		keep(ctx);
		__atomic_fetch_add(&leaked, kib * 1024, __ATOMIC_RELAXED);
	}
}

NOINLINE static char *scratch_begin(void)
{
	char *p = malloc(kib * 1024);
	if (p)
		memset(p, 1, kib * 1024);
	return p;
}

NOINLINE static void scratch_end(char *p)
{
	sink += p ? (unsigned long)p[100] : 0;
	free(p);
}

/* A request: the scratch buffer is freed, the context is not. */
NOINLINE static void handle_request(void)
{
	char *s = scratch_begin();
	leak_request_context();
	scratch_end(s);
	reserve_untouched();
}

NOINLINE static void churn_scratch(void)
{
	char *p = malloc(kib * 1024);
	if (p) {
		memset(p, 1, kib * 1024);
		sink += (unsigned long)p[100];
		free(p);
	}
}


NOINLINE static void grow_table(void)
{
	static char *table;
	static size_t len;
	char *t = realloc(table, len + kib * 1024);
	char *c;

	if (t) {
		touch(t + len, kib * 1024);
		table = t;
		len += kib * 1024;
	}
	c = calloc(kib, 1024);
	if (c) {
		touch(c, kib * 1024);
		keep(c);
	}
}

NOINLINE static void arena_carve(void)
{
	static char *arena;
	static size_t used, size = 4u << 20;

	if (!arena || used + kib * 1024 > size) {
		arena = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (arena == MAP_FAILED) {
			arena = NULL;
			return;
		}
		used = 0;
	}
	touch(arena + used, kib * 1024);
	used += kib * 1024;
}

static void pace(void)
{
	struct timespec ts = {0, 1000000000L / rate};
	nanosleep(&ts, NULL);
}

NOINLINE static void worker_leak(void)
{
	char *s = scratch_begin();
	leak_request_context();
	scratch_end(s);
}

static void *worker(void *arg)
{
	(void)arg;
	while (!done) {
		worker_leak();
		pace();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "request";
	long burst_left = argc > 4 ? atol(argv[4]) : 0;
	pthread_t th[4];

	if (argc > 2)
		kib = (size_t)atol(argv[2]);
	if (argc > 3)
		rate = atol(argv[3]);
	if (kib == 0 || rate <= 0)
		return 2;
	signal(SIGTERM, on_term);
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	printf("READY\n");
	fflush(stdout);
	if (strcmp(mode, "threads") == 0) {
		for (int i = 0; i < 4; i++)
			pthread_create(&th[i], NULL, worker, NULL);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		return 0;
	}
	if (strcmp(mode, "lazyfree") == 0) {
		size_t len = 64u << 20;
		char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return 1;
		touch(m, len);
		if (madvise(m, len, MADV_FREE) < 0)
			return 1;
		mode = "steady";
		printf("FREED\n");
		fflush(stdout);
	}
	while (!done) {
		if (strcmp(mode, "request") == 0) {
			handle_request();
		} else if (strcmp(mode, "calloc") == 0) {
			char *s = scratch_begin();
			grow_table();
			scratch_end(s);
		} else if (strcmp(mode, "arena") == 0) {
			arena_carve();
			churn_scratch();
		} else if (strcmp(mode, "burst") == 0) {
			if (burst_go && burst_left > 0) {
				char *s = scratch_begin();
				leak_request_context();
				scratch_end(s);
				if (--burst_left == 0) {
					printf("BURST DONE\n");
					stats();
				}
			} else {
				churn_scratch();
			}
		} else if (strcmp(mode, "steady") == 0) {
			churn_scratch();
		} else {
			return 2;
		}
		requests++;
		if (want_stats) {
			want_stats = 0;
			stats();
		}
		pace();
	}
	stats();
	return 0;
}
