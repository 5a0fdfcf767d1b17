/*
 * locks: threads that deadlock, wait or idle on pthread primitives in known
 * functions, for the lock graph tests and bench/locks.
 *
 *   locks MODE [N]
 *     deadlock2  worker_ab holds A and wants B, worker_ba holds B and wants A
 *     cycle3     three threads each hold one mutex and want the next one's
 *     mixed      a recursive mutex (locked twice) and an error-checking one
 *                (relocking it returns EDEADLK) in a two-thread cycle, plus a
 *                third thread waiting on the recursive one
 *     pool [N]   N threads (default 100) parked on a condition variable, two on
 *                a semaphore, one in pthread_join: nothing is deadlocked
 *     hold [S]   holder keeps a mutex S seconds (default 4) while waiter
 *                blocks on it, then releases it; repeats with 1 s pauses
 *     idle [N]   N threads (default 1000) parked on a condition variable
 *     crowd [N]  N threads (default 1000) blocked on one mutex main holds for good
 * Prints "ready" once the threads are in place (for deadlocks: once each
 * holds its first lock, so the second lock blocks for good).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define NO_TAIL() __asm__ volatile("" ::: "memory")

static pthread_mutex_t m[3] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
			       PTHREAD_MUTEX_INITIALIZER};
static pthread_barrier_t bar;
static pthread_mutex_t rec, chk;
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static int nready;

static void ready_one(void)
{
	pthread_mutex_lock(&cmu);
	nready++;
	pthread_mutex_unlock(&cmu);
}

static void wait_ready(int n)
{
	for (;;) {
		pthread_mutex_lock(&cmu);
		int r = nready;
		pthread_mutex_unlock(&cmu);
		if (r >= n)
			return;
		usleep(1000);
	}
}

NOINLINE static void take_two(pthread_mutex_t *first, pthread_mutex_t *second)
{
	pthread_mutex_lock(first);
	pthread_barrier_wait(&bar);
	pthread_mutex_lock(second); /* blocks for good */
	NO_TAIL();
}

NOINLINE static void *worker_ab(void *arg)
{
	(void)arg;
	take_two(&m[0], &m[1]);
	NO_TAIL();
	return NULL;
}

NOINLINE static void *worker_ba(void *arg)
{
	(void)arg;
	take_two(&m[1], &m[0]);
	NO_TAIL();
	return NULL;
}

NOINLINE static void *ring_worker(void *arg)
{
	long i = (long)arg;
	take_two(&m[i], &m[(i + 1) % 3]);
	NO_TAIL();
	return NULL;
}

NOINLINE static void *rec_holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&rec);
	pthread_mutex_lock(&rec); /* recursive: a count, not a wait */
	pthread_barrier_wait(&bar);
	pthread_mutex_lock(&chk);
	NO_TAIL();
	return NULL;
}

NOINLINE static void *chk_holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&chk);
	if (pthread_mutex_lock(&chk) != EDEADLK) /* error-checking: refused, not a wait */
		abort();
	pthread_barrier_wait(&bar);
	pthread_mutex_lock(&rec);
	NO_TAIL();
	return NULL;
}

NOINLINE static void *rec_waiter(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&bar);
	pthread_mutex_lock(&rec);
	NO_TAIL();
	return NULL;
}

NOINLINE static void *pool_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cmu);
	nready++;
	for (;;)
		pthread_cond_wait(&cv, &cmu);
	return NULL;
}

NOINLINE static void *sem_worker(void *arg)
{
	(void)arg;
	ready_one();
	for (;;)
		sem_wait(&sem);
	return NULL;
}

NOINLINE static void *joiner(void *arg)
{
	pthread_join(*(pthread_t *)arg, NULL);
	return NULL;
}

NOINLINE static void *crowd_worker(void *arg)
{
	(void)arg;
	ready_one();
	pthread_mutex_lock(&m[2]); /* main holds it for good */
	return NULL;
}

NOINLINE static void *holder(void *arg)
{
	long secs = (long)arg;
	for (;;) {
		pthread_mutex_lock(&m[0]);
		ready_one();
		sleep((unsigned)secs);
		pthread_mutex_unlock(&m[0]);
		sleep(1);
	}
	return NULL;
}

NOINLINE static void *hold_waiter(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&m[0]);
		pthread_mutex_unlock(&m[0]);
		usleep(100000);
	}
	return NULL;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
	if (pthread_create(t, NULL, fn, arg) != 0) {
		perror("pthread_create");
		exit(1);
	}
	pthread_setname_np(*t, name);
}

static void pool(long n, int extras)
{
	static pthread_t sem_t1, sem_t2, j;
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	pthread_attr_t a;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], &a, pool_worker, NULL) != 0) {
			perror("pthread_create");
			exit(1);
		}
	if (extras) {
		sem_init(&sem, 0, 0);
		start(&sem_t1, sem_worker, NULL, "sem_a");
		start(&sem_t2, sem_worker, NULL, "sem_b");
		start(&j, joiner, &sem_t1, "joiner");
	}
	wait_ready((int)n + (extras ? 2 : 0));
	/* Each pool thread has released cmu inside pthread_cond_wait by now. */
	pthread_mutex_lock(&cmu);
	pthread_mutex_unlock(&cmu);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "deadlock2";
	long arg = argc > 2 ? atol(argv[2]) : 0;
	pthread_t t[3];

	if (!strcmp(mode, "deadlock2")) {
		pthread_barrier_init(&bar, NULL, 2);
		start(&t[0], worker_ab, NULL, "worker_ab");
		start(&t[1], worker_ba, NULL, "worker_ba");
		usleep(1000);
	} else if (!strcmp(mode, "cycle3")) {
		pthread_barrier_init(&bar, NULL, 3);
		for (long i = 0; i < 3; i++) {
			char name[32]; /* pthread names are cut to 15 bytes */
			snprintf(name, sizeof(name), "ring%ld", i);
			start(&t[i], ring_worker, (void *)i, name);
		}
	} else if (!strcmp(mode, "mixed")) {
		pthread_mutexattr_t a;
		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&rec, &a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
		pthread_mutex_init(&chk, &a);
		pthread_barrier_init(&bar, NULL, 3);
		start(&t[0], rec_holder, NULL, "rec_holder");
		start(&t[1], chk_holder, NULL, "chk_holder");
		start(&t[2], rec_waiter, NULL, "rec_waiter");
	} else if (!strcmp(mode, "pool")) {
		pool(arg > 0 ? arg : 100, 1);
	} else if (!strcmp(mode, "idle")) {
		pool(arg > 0 ? arg : 1000, 0);
	} else if (!strcmp(mode, "crowd")) {
		long n = arg > 0 ? arg : 1000;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 64 * 1024);
		pthread_mutex_lock(&m[2]);
		for (long i = 0; i < n; i++) {
			pthread_t x;
			if (pthread_create(&x, &a, crowd_worker, NULL) != 0) {
				perror("pthread_create");
				return 1;
			}
		}
		wait_ready((int)n);
	} else if (!strcmp(mode, "hold")) {
		start(&t[0], holder, (void *)(arg > 0 ? arg : 4), "holder");
		wait_ready(1);
		start(&t[1], hold_waiter, NULL, "waiter");
	} else {
		fprintf(stderr, "locks: unknown mode %s\n", mode);
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
