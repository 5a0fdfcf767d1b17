/*
 * mallocloop: calls malloc/free pairs at a fixed rate and counts the CPU
 * time they take, for bench/malloc.sh (the cost of malloc tracking per call).
 *
 *   mallocloop PAIRS_PER_SECOND
 *
 * Every 10 ms it runs PAIRS_PER_SECOND / 100 pairs of malloc(n) and free,
 * n cycling over 16..1039 bytes (small blocks from the thread's cache, as
 * most of a service's allocations are), and adds the thread's CPU time
 * spent in them to a counter. A fixed rate keeps the call rate a tracker
 * sees the same whatever one pair costs under it. Prints "READY" once
 * running; SIGUSR1 prints "PAIRS n CPU_NS ns" (totals since the start) so a
 * window's cost per pair is the difference of two lines; SIGTERM ends it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t done, want;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
	want = 1;
}

static long long ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	/* called through volatile pointers: the compiler may not fold a malloc/free pair away */
	void *(*volatile alloc)(size_t) = malloc;
	void (*volatile release)(void *) = free;
	long rate = argc > 1 ? atol(argv[1]) : 10000;
	long batch = rate / 100 > 0 ? rate / 100 : 1;
	unsigned long long pairs = 0, cpu = 0;
	struct timespec next;
	size_t n = 0;

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGUSR1, on_usr1);
	printf("READY\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!done) {
		long long t0 = ns(CLOCK_THREAD_CPUTIME_ID);

		for (long i = 0; i < batch; i++) {
			release(alloc(16 + n));
			n = (n + 97) & 1023;
		}
		cpu += (unsigned long long)(ns(CLOCK_THREAD_CPUTIME_ID) - t0);
		pairs += (unsigned long long)batch;
		if (want) {
			want = 0;
			printf("PAIRS %llu %llu\n", pairs, cpu);
			fflush(stdout);
		}
		next.tv_nsec += 10000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	printf("PAIRS %llu %llu\n", pairs, cpu);
	return 0;
}
