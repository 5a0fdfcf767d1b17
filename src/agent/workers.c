/* workers: a small fixed pool of threads running queued tasks off the sampling thread. */
#include "agent/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "lib/util.h"

struct task {
	worker_fn fn;
	worker_dispose dispose;
	void *arg;
};

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* tasks queued or stopping */
	pthread_cond_t idle;      /* a task finished */
	pthread_t *threads;
	int nthreads;
	struct task *q;           /* ring */
	size_t cap, head, n;
	size_t running;
	int exited;
	bool stopping;
	volatile sig_atomic_t stop;
};

static void *worker_main(void *arg)
{
	workers *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->n == 0 && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stopping)
			break;
		struct task t = w->q[w->head];
		w->head = (w->head + 1) % w->cap;
		w->n--;
		w->running++;
		pthread_mutex_unlock(&w->lock);
		t.fn(t.arg, &w->stop);
		pthread_mutex_lock(&w->lock);
		w->running--;
	}
	w->exited++;
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int workers_new(int n, size_t max_queued, workers **out)
{
	workers *w = xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->idle, &ca);
	pthread_condattr_destroy(&ca);
	w->cap = max_queued ? max_queued : 1;
	w->q = xcalloc(w->cap, sizeof(*w->q));
	w->threads = xcalloc((size_t)n, sizeof(pthread_t));
	for (int i = 0; i < n; i++) {
		int rc = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (rc != 0) {
			w->nthreads = i;
			workers_stop(w, 0);
			workers_free(w);
			return -rc;
		}
		w->nthreads++;
	}
	*out = w;
	return 0;
}

int workers_submit(workers *w, worker_fn fn, worker_dispose dispose, void *arg)
{
	pthread_mutex_lock(&w->lock);
	if (w->stopping || w->n == w->cap) {
		pthread_mutex_unlock(&w->lock);
		return -EAGAIN;
	}
	w->q[(w->head + w->n) % w->cap] = (struct task){fn, dispose, arg};
	w->n++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

size_t workers_queued(workers *w)
{
	pthread_mutex_lock(&w->lock);
	size_t n = w->n;
	pthread_mutex_unlock(&w->lock);
	return n;
}

size_t workers_running(workers *w)
{
	pthread_mutex_lock(&w->lock);
	size_t n = w->running;
	pthread_mutex_unlock(&w->lock);
	return n;
}

int workers_stop(workers *w, int64_t deadline_mono_ms)
{
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	w->stop = 1;
	while (w->n > 0) {
		struct task t = w->q[w->head];
		w->head = (w->head + 1) % w->cap;
		w->n--;
		if (t.dispose)
			t.dispose(t.arg);
	}
	pthread_cond_broadcast(&w->cond);
	struct timespec ts = {.tv_sec = deadline_mono_ms / 1000, .tv_nsec = (deadline_mono_ms % 1000) * 1000000};
	while (w->exited < w->nthreads) {
		if (pthread_cond_timedwait(&w->idle, &w->lock, &ts) == ETIMEDOUT)
			break;
	}
	int left = w->nthreads - w->exited;
	pthread_mutex_unlock(&w->lock);
	if (left == 0) {
		for (int i = 0; i < w->nthreads; i++)
			pthread_join(w->threads[i], NULL);
		w->nthreads = 0;
	}
	return left;
}

void workers_free(workers *w)
{
	if (!w)
		return;
	if (w->nthreads > 0 && w->exited < w->nthreads)
		return; /* threads still running a task: leave them to process exit */
	free(w->q);
	free(w->threads);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->idle);
	free(w);
}
