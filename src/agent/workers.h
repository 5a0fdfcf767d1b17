/* workers: a small fixed pool of threads running queued tasks off the sampling thread. */
#ifndef HOUND_WORKERS_H
#define HOUND_WORKERS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct workers workers;

/* A task: fn(arg) runs on a worker; dispose(arg) runs instead if the task is dropped. */
typedef void (*worker_fn)(void *arg, volatile sig_atomic_t *stop);
typedef void (*worker_dispose)(void *arg);

/* Starts n threads; max_queued bounds the queue. 0 or -errno. */
int workers_new(int n, size_t max_queued, workers **out);
/* Queues a task; -EAGAIN when the queue is full (the caller disposes). Thread-safe. */
int workers_submit(workers *w, worker_fn fn, worker_dispose dispose, void *arg);
size_t workers_queued(workers *w);
size_t workers_running(workers *w);
/*
 * Sets the stop flag the tasks see, drops queued tasks (dispose), and joins
 * the threads, waiting for running tasks until deadline_mono_ms; tasks still
 * running then are left to the process exit. Returns the number left.
 */
int workers_stop(workers *w, int64_t deadline_mono_ms);
void workers_free(workers *w);

#endif
