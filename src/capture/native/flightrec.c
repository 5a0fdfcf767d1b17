/* flightrec: an always-on low-rate CPU profile of one process, kept in a bounded ring. */
#include "capture/native/flightrec.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/native/perf_profile.h"
#include "capture/native/perf_sampler.h"
#include "capture/native/sigmask.h"
#include "capture/native/symbolize.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_FRAMES 64
/* How often the kept view of the process's mappings is refreshed. */
#define MAPS_REFRESH_MS 5000

/* A sample in the ring; followed by n program counters. */
struct rec {
	int64_t time_ns;
	uint32_t size; /* bytes of this record, 0 = wrap marker */
	uint16_t n;
	uint16_t pad;
	char thread[16];
};

struct flightrec {
	pid_t pid;
	double rate_hz;
	int64_t keep_ms;
	perf_sampler *s;
	pthread_t thr;
	volatile sig_atomic_t stop;
	pthread_mutex_t mu;
	uint8_t *ring; /* records, 8-byte aligned, contiguous (wrap marker at the end) */
	size_t cap, head, tail, used;
	uint64_t samples;
	size_t kernel_bytes;
	int refs; /* the owning process state plus each capture job writing from it */
	/*
	 * The process's mappings, read while it lives and refreshed every
	 * MAPS_REFRESH_MS: a process that exits before its profile is written
	 * is still symbolized (its /proc/PID/maps is gone by then).
	 */
	pthread_mutex_t sym_mu;
	sym_proc *kept_maps;
};

/* Replaces the kept mappings with fresh ones; keeps the old on failure. */
static void refresh_maps(flightrec *f)
{
	char err[256];
	sym_proc *sp = NULL;
	if (sym_proc_open(symbolizer_shared(), f->pid, &sp, err, sizeof(err)) < 0)
		return;
	pthread_mutex_lock(&f->sym_mu);
	sym_proc *old = f->kept_maps;
	f->kept_maps = sp;
	pthread_mutex_unlock(&f->sym_mu);
	sym_proc_free(old);
}

static size_t rec_size(size_t n)
{
	return sizeof(struct rec) + n * sizeof(uint64_t);
}

/* True when no record starts at pos (too little room left, or a wrap marker). */
static bool is_wrap(const flightrec *f, size_t pos)
{
	return f->cap - pos < sizeof(struct rec) ||
	       ((const struct rec *)(const void *)(f->ring + pos))->size == 0;
}

/* Drops the oldest record; called with mu held and used > 0. */
static void evict(flightrec *f)
{
	if (is_wrap(f, f->tail)) {
		f->used -= f->cap - f->tail;
		f->tail = 0;
	} else {
		size_t sz = ((struct rec *)(void *)(f->ring + f->tail))->size;
		f->tail += sz;
		f->used -= sz;
		if (f->tail == f->cap)
			f->tail = 0;
	}
	if (f->used == 0)
		f->head = f->tail = 0;
}

/* Makes need contiguous bytes free at head, evicting the oldest records. */
static void make_room(flightrec *f, size_t need)
{
	for (;;) {
		if (f->used == 0) {
			f->head = f->tail = 0;
			return;
		}
		if (f->head > f->tail) {
			if (f->cap - f->head >= need)
				return;
			if (f->cap - f->head >= sizeof(struct rec))
				((struct rec *)(void *)(f->ring + f->head))->size = 0;
			f->used += f->cap - f->head;
			f->head = 0;
		} else if (f->head < f->tail && f->tail - f->head >= need) {
			return;
		} else {
			evict(f);
		}
	}
}

static void on_stack(const struct perf_stack *s, void *arg)
{
	flightrec *f = arg;
	size_t n = s->n > MAX_FRAMES ? MAX_FRAMES : s->n, need = rec_size(n);
	struct rec *r;

	pthread_mutex_lock(&f->mu);
	f->samples++;
	make_room(f, need);
	r = (struct rec *)(void *)(f->ring + f->head);
	r->time_ns = s->time_ns;
	r->size = (uint32_t)need;
	r->n = (uint16_t)n;
	memcpy(r->thread, s->thread ? s->thread : "", sizeof(r->thread));
	r->thread[sizeof(r->thread) - 1] = 0;
	memcpy(r + 1, s->ips, n * sizeof(uint64_t));
	f->head += need;
	f->used += need;
	if (f->head == f->cap)
		f->head = 0;
	pthread_mutex_unlock(&f->mu);
}

static void *run(void *arg)
{
	flightrec *f = arg;
	const struct perf_sampler_stats *st = perf_sampler_stats(f->s);
	int64_t maps_at = util_mono_ms();

	/*
	 * Signals are for the agent's other threads; with all of them blocked
	 * here, libunwind's per-frame mask changes skip the kernel (sigmask.h).
	 */
	sigmask_block_all();
	while (!f->stop && !st->process_gone) {
		if (util_mono_ms() - maps_at >= MAPS_REFRESH_MS) {
			refresh_maps(f); /* a dlopen since: new code to name */
			maps_at = util_mono_ms();
		}
		if (perf_sampler_run(f->s, util_mono_ms() + 1000, &f->stop, on_stack, f) < 0)
			break;
		pthread_mutex_lock(&f->mu);
		f->kernel_bytes = perf_sampler_ring_bytes(f->s);
		pthread_mutex_unlock(&f->mu);
	}
	pthread_mutex_lock(&f->mu);
	f->kernel_bytes = 0;
	pthread_mutex_unlock(&f->mu);
	sigmask_forget();
	return NULL;
}

int flightrec_new(pid_t pid, double rate_hz, int64_t keep_ms, flightrec **out)
{
	struct perf_sampler_opts o = {
	    .hz = rate_hz > 0 ? rate_hz : 19, .ring_pages = 8, .poll_ms = 250};
	flightrec *f = xcalloc(1, sizeof(*f));
	f->refs = 1;
	char err[256];
	double per_thread;
	int rc;

	f->pid = pid;
	f->rate_hz = o.hz;
	f->keep_ms = keep_ms > 0 ? keep_ms : 30000;
	per_thread = f->rate_hz * (double)f->keep_ms / 1000.0 + 1;
	f->cap = (size_t)per_thread * FLIGHTREC_THREADS * FLIGHTREC_SAMPLE_BYTES;
	if (f->cap < 4 * rec_size(MAX_FRAMES))
		f->cap = 4 * rec_size(MAX_FRAMES);
	f->cap = (f->cap + 7) & ~(size_t)7;
	pthread_mutex_init(&f->mu, NULL);
	pthread_mutex_init(&f->sym_mu, NULL);
	rc = perf_sampler_open(pid, &o, &f->s, err, sizeof(err));
	if (rc < 0) {
		log_warn("flight recorder off", "pid=%d error=%s", (int)pid, err);
		goto fail;
	}
	f->ring = xmalloc(f->cap);
	f->kernel_bytes = perf_sampler_ring_bytes(f->s);
	refresh_maps(f);
	rc = -pthread_create(&f->thr, NULL, run, f);
	if (rc < 0)
		goto fail;
	*out = f;
	return 0;
fail:
	perf_sampler_free(f->s);
	sym_proc_free(f->kept_maps);
	pthread_mutex_destroy(&f->sym_mu);
	pthread_mutex_destroy(&f->mu);
	free(f->ring);
	free(f);
	return rc;
}

flightrec *flightrec_ref(flightrec *f)
{
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
	return f;
}

void flightrec_free(flightrec *f)
{
	if (!f || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	f->stop = 1;
	pthread_join(f->thr, NULL);
	perf_sampler_free(f->s);
	sym_proc_free(f->kept_maps);
	pthread_mutex_destroy(&f->sym_mu);
	pthread_mutex_destroy(&f->mu);
	free(f->ring);
	free(f);
}

size_t flightrec_memory(const flightrec *f)
{
	size_t n;
	pthread_mutex_lock((pthread_mutex_t *)(uintptr_t)&f->mu);
	n = f->cap + f->kernel_bytes + sizeof(*f);
	pthread_mutex_unlock((pthread_mutex_t *)(uintptr_t)&f->mu);
	return n;
}

uint64_t flightrec_samples(const flightrec *f)
{
	uint64_t n;
	pthread_mutex_lock((pthread_mutex_t *)(uintptr_t)&f->mu);
	n = f->samples;
	pthread_mutex_unlock((pthread_mutex_t *)(uintptr_t)&f->mu);
	return n;
}

int flightrec_write(flightrec *f, const char *dir, int64_t until_mono_ms, char *err, size_t errlen)
{
	int64_t hi = until_mono_ms * 1000000, lo = hi - f->keep_ms * 1000000;
	int64_t period_ns = (int64_t)(1e9 / f->rate_hz);
	perf_profile *prof = perf_profile_new();
	sym_proc *sp = NULL;
	char *path = NULL, *comment;
	int rc;

	pthread_mutex_lock(&f->mu);
	for (size_t pos = f->tail, left = f->used; left > 0;) {
		const struct rec *r = (const struct rec *)(const void *)(f->ring + pos);
		if (is_wrap(f, pos)) {
			left -= f->cap - pos;
			pos = 0;
			continue;
		}
		if (r->time_ns >= lo && r->time_ns <= hi)
			perf_profile_add(prof, r->thread, (const uint64_t *)(const void *)(r + 1),
					 r->n, period_ns);
		pos += r->size;
		left -= r->size;
		if (pos == f->cap)
			pos = 0;
	}
	pthread_mutex_unlock(&f->mu);

	rc = sym_proc_open(symbolizer_shared(), f->pid, &sp, err, errlen);
	if (rc == 0) {
		perf_profile_resolve(prof, sp);
	} else {
		/* the process is gone: name its code from the mappings kept while it lived */
		pthread_mutex_lock(&f->sym_mu);
		if (f->kept_maps)
			perf_profile_resolve(prof, f->kept_maps);
		pthread_mutex_unlock(&f->sym_mu);
		log_debug("flight recorder: process gone, kept mappings used", "pid=%d kept=%s",
			  (int)f->pid, f->kept_maps ? "yes" : "no");
	}
	path = xasprintf("%s/cpu.before.pb.gz", dir);
	comment = xasprintf("hound flight recorder: %.0f Hz, the %lld ms before the trigger",
			    f->rate_hz, (long long)f->keep_ms);
	rc = perf_profile_write_pprof(
	    prof, path, (util_wall_ms() - (util_mono_ms() - until_mono_ms) - f->keep_ms) * 1000000,
	    f->keep_ms * 1000000, period_ns, comment, err, errlen);
	free(comment);
	free(path);
	sym_proc_free(sp);
	perf_profile_free(prof);
	return rc;
}
