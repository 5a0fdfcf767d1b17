/*
 * threads: a target with N idle threads in known nested call chains, for the
 * stacks tests and bench/stacks.
 *
 *   threads [-n N] [-t] [-x] [-c]
 *     -n N  worker threads (default 4), each parked in one of three chains:
 *             chain_alpha -> alpha_mid -> alpha_leaf -> pthread_cond_wait
 *             chain_beta  -> beta_mid  -> beta_leaf  -> nanosleep
 *             chain_gamma -> gamma_mid -> gamma_leaf -> read (a pipe)
 *     -t    add a heartbeat thread: it sleeps 1 ms in a loop and records its
 *           largest gap; SIGUSR1 prints "max_gap_us N" on stdout and resets it
 *     -x    exit the whole process as soon as the main thread is traced
 *           (a target that exits in the middle of a capture)
 *     -c    churn: one more thread keeps creating short-lived threads
 * Prints "ready" once every thread is parked; SIGTERM/SIGINT end it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
/* Keeps the compiler from turning a call into a tail jump. */
#define NO_TAIL() __asm__ volatile("" ::: "memory")

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t ready_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static int nready;
static int pipefd[2];
static volatile long max_gap_ns;

static void mark_ready(void)
{
	pthread_mutex_lock(&ready_mu);
	nready++;
	pthread_cond_signal(&ready_cv);
	pthread_mutex_unlock(&ready_mu);
}

NOINLINE static void alpha_leaf(void)
{
	pthread_mutex_lock(&mu);
	mark_ready();
	for (;;)
		pthread_cond_wait(&cv, &mu);
}
NOINLINE static void alpha_mid(void) { alpha_leaf(); NO_TAIL(); }
NOINLINE static void chain_alpha(void) { alpha_mid(); NO_TAIL(); }

NOINLINE static void beta_leaf(void)
{
	struct timespec ts = {3600, 0};
	mark_ready();
	for (;;)
		nanosleep(&ts, NULL);
}
NOINLINE static void beta_mid(void) { beta_leaf(); NO_TAIL(); }
NOINLINE static void chain_beta(void) { beta_mid(); NO_TAIL(); }

NOINLINE static void gamma_leaf(void)
{
	char c;
	mark_ready();
	for (;;)
		if (read(pipefd[0], &c, 1) == 0)
			pause();
}
NOINLINE static void gamma_mid(void) { gamma_leaf(); NO_TAIL(); }
NOINLINE static void chain_gamma(void) { gamma_mid(); NO_TAIL(); }

static void *worker(void *arg)
{
	long i = (long)arg;
	char name[16];
	snprintf(name, sizeof(name), "worker-%ld", i);
	pthread_setname_np(pthread_self(), name);
	switch (i % 3) {
	case 0: chain_alpha(); break;
	case 1: chain_beta(); break;
	default: chain_gamma(); break;
	}
	return NULL;
}

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *heartbeat(void *arg)
{
	struct timespec ms = {0, 1000000};
	long prev = now_ns();
	(void)arg;
	pthread_setname_np(pthread_self(), "heartbeat");
	mark_ready();
	for (;;) {
		nanosleep(&ms, NULL);
		long t = now_ns(), gap = t - prev - 1000000;
		if (gap > max_gap_ns)
			max_gap_ns = gap;
		prev = t;
	}
	return NULL;
}

/* Exits the process once the main thread has a tracer. */
static void *exit_when_traced(void *arg)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", getpid());
	(void)arg;
	mark_ready();
	for (;;) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = 0;
			char *p = strstr(buf, "TracerPid:");
			if (p && atoi(p + 10) != 0)
				_exit(0);
		}
	}
	return NULL;
}

static void *short_lived(void *arg)
{
	(void)arg;
	usleep(100);
	return NULL;
}

static void *churn(void *arg)
{
	(void)arg;
	mark_ready();
	for (;;) {
		pthread_t t;
		if (pthread_create(&t, NULL, short_lived, NULL) == 0)
			pthread_join(t, NULL);
	}
	return NULL;
}

static void start(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 * 1024);
	int rc = pthread_create(&t, &a, fn, arg);
	if (rc) {
		fprintf(stderr, "pthread_create: %s\n", strerror(rc));
		exit(1);
	}
	pthread_attr_destroy(&a);
}

int main(int argc, char **argv)
{
	long n = 4;
	int hb = 0, ex = 0, ch = 0, opt, extra = 0, sig;
	sigset_t set;

	while ((opt = getopt(argc, argv, "n:txc")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 't': hb = 1; break;
		case 'x': ex = 1; break;
		case 'c': ch = 1; break;
		default:
			fprintf(stderr, "usage: threads [-n N] [-t] [-x] [-c]\n");
			return 2;
		}
	}
	if (pipe(pipefd) < 0)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (long i = 0; i < n; i++)
		start(worker, (void *)i);
	if (hb)
		start(heartbeat, NULL), extra++;
	if (ex)
		start(exit_when_traced, NULL), extra++;
	if (ch)
		start(churn, NULL), extra++;
	pthread_mutex_lock(&ready_mu);
	while (nready < n + extra)
		pthread_cond_wait(&ready_cv, &ready_mu);
	pthread_mutex_unlock(&ready_mu);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGUSR1)
			break;
		printf("max_gap_us %ld\n", max_gap_ns / 1000);
		fflush(stdout);
		max_gap_ns = 0;
	}
	return 0;
}
