/* perf_sampler: per-thread perf_event_open sampling of one process, with call chains. */
#ifndef HOUND_PERF_SAMPLER_H
#define HOUND_PERF_SAMPLER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PERF_MAX_FRAMES 128

/* How a sample's chain was obtained. */
enum perf_method {
	PERF_METHOD_FP,	     /* kernel frame-pointer chain, complete (DWARF agreed) */
	PERF_METHOD_DWARF,   /* DWARF unwinding of the stack copy (FP chain was incomplete) */
	PERF_METHOD_FP_DEEP, /* FP chain used beyond the end of the stack copy */
	PERF_METHOD_PARTIAL, /* neither reached the outermost frame: the longest chain kept */
	PERF_METHOD_COUNT
};

const char *perf_method_name(enum perf_method m);

/* One unwound sample. Pointers are valid during the callback only. */
struct perf_stack {
	pid_t tid;
	const char *thread; /* comm of the thread */
	int64_t time_ns;    /* CLOCK_MONOTONIC */
	int64_t period_ns;  /* CPU time this sample stands for */
	uint64_t period;    /* events this sample stands for (page faults for PERF_SAMPLER_FAULTS) */
	uint64_t addr;	    /* PERF_SAMPLER_FAULTS: the address that faulted */
	size_t n;
	const uint64_t *ips; /* leaf first; all but ips[0] are return addresses */
	enum perf_method method;
};

typedef void (*perf_stack_fn)(const struct perf_stack *s, void *arg);

/* What is sampled. */
enum perf_sampler_event {
	PERF_SAMPLER_CPU,    /* CPU time: cycles or cpu-clock */
	PERF_SAMPLER_FAULTS, /* user page faults: who makes new memory resident */
};

struct perf_sampler_opts {
	enum perf_sampler_event event;
	double hz;	    /* samples per second per thread (ignored for faults: every one) */
	size_t stack_bytes; /* user stack bytes copied per sample (0: 8192) */
	size_t ring_pages;  /* data pages per thread ring, a power of two (0: 32) */
	bool try_cycles;    /* use the hardware cycles event when there is one */
	int poll_ms;	    /* how often rings are drained and unwound (0: 50) */
};

struct perf_sampler_stats {
	uint64_t samples, lost, dropped; /* dropped: records that could not be parsed */
	uint64_t method[PERF_METHOD_COUNT];
	size_t threads_seen, threads_failed;
	const char *event; /* "cpu-clock", "cycles" or "page-faults" */
	bool process_gone;
};

typedef struct perf_sampler perf_sampler;

/*
 * Opens one sampling event per thread of pid. Fails (-errno, sentence in err
 * naming perf_event_open and the PID) when the first thread cannot be
 * sampled: -EACCES/-EPERM (perf_event_paranoid, seccomp), -ENOSYS, -ESRCH.
 * Free with perf_sampler_free (NULL ok).
 */
int perf_sampler_open(pid_t pid, const struct perf_sampler_opts *o, perf_sampler **out, char *err,
		      size_t errlen);
void perf_sampler_free(perf_sampler *s);

/*
 * Drains the rings until until_mono_ms, *stop, or the process is gone,
 * calling fn for each sample; rescans /proc/PID/task every 100 ms for new
 * threads. Returns 0 (also when the process exited) or -errno.
 */
int perf_sampler_run(perf_sampler *s, int64_t until_mono_ms, volatile sig_atomic_t *stop,
		     perf_stack_fn fn, void *arg);

/*
 * Faults only: samples one fault in period from now on, on every thread
 * (and on threads found later). Each sample's perf_stack.period says how
 * many faults it stands for. Returns 0 or -errno (EINVAL for CPU events).
 */
int perf_sampler_set_period(perf_sampler *s, uint64_t period);

const struct perf_sampler_stats *perf_sampler_stats(const perf_sampler *s);
/* Bytes of ring buffers currently mapped. */
size_t perf_sampler_ring_bytes(const perf_sampler *s);

#endif
