/* mtrack: malloc tracking of a native process for a heap capture (eBPF uprobes, sampled by bytes). */
#ifndef HOUND_MTRACK_H
#define HOUND_MTRACK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "bundle/bundle.h"
#include "capture/native/perf_profile.h"

/* Defaults: the mean of the byte sampling, and the CPU the tracking may cost the target. */
#define MTRACK_DEFAULT_SAMPLE (512u * 1024)
#define MTRACK_DEFAULT_BUDGET 0.02

struct mtrack_opts {
	int64_t duration_ms;
	uint64_t sample_bytes; /* Poisson sampling mean, bytes */
	double budget;	       /* fraction of one core */
};

/* What the tracking found; top is charged to the program's own code. */
struct mtrack_result {
	struct perf_profile_fn *top; /* most resident first (value), live bytes in count;
					by_live: live bytes (value) and objects (count) */
	bool by_live;
	size_t ntop;
	int64_t duration_ms, requested_ms;
	double calls_per_s, pair_ns, cost_cores;
	bool shortened, process_gone;
	bool pair_assumed; /* the cost probe failed: pair_ns is the conservative default */
	uint64_t alloc_calls, free_calls, sampled, lost;
	int64_t live_bytes, alloc_bytes, resident_bytes; /* estimates (samples scaled up) */
	char modules[256];		 /* the files whose allocator was probed */
};

/*
 * Tracks the allocator of pid for o->duration_ms (or until *stop or the
 * process exits): first counts its allocator calls for a moment and plans
 * within the budget (mtrack_guard), then samples allocations by bytes and
 * writes malloc.pb.gz (inuse_objects, inuse_space, alloc_objects,
 * alloc_space by allocating stack, readable by go tool pprof) and
 * malloc.folded (live bytes) into the bundle. Returns 0 and fills out
 * (mtrack_result_fini); -ECANCELED when the guard refused (err says why,
 * with the numbers); -ENOSYS without eBPF support; -EPERM/-EACCES without
 * CAP_BPF and CAP_PERFMON; other -errno with a sentence in err.
 */
int mtrack_capture(pid_t pid, const struct mtrack_opts *o, volatile sig_atomic_t *stop, bundle *b,
		   struct mtrack_result *out, char *err, size_t errlen);
void mtrack_result_fini(struct mtrack_result *r);

/* How malloc trackings ended, process-wide (for /metrics). */
enum mtrack_outcome {
	MTRACK_OK,	     /* tracked (possibly shortened) */
	MTRACK_OVER_BUDGET,  /* refused by the cost guard */
	MTRACK_NO_PRIVILEGE, /* EPERM/EACCES: CAP_BPF, CAP_SYS_ADMIN, lockdown */
	MTRACK_UNAVAILABLE,  /* built without eBPF, no allocator found */
	MTRACK_FAILED,	     /* anything else */
	MTRACK_NOUTCOMES
};
/* The outcome name ("ok", "over_budget", ...). */
const char *mtrack_outcome_name(enum mtrack_outcome o);
/* The counts so far, one per outcome. Thread-safe. */
void mtrack_outcomes(uint64_t out[MTRACK_NOUTCOMES]);

/*
 * The weight of one sampled allocation of size bytes when sampling by
 * bytes with mean mean: the allocations it stands for, 1 / (1 - e^(-size/mean)). Pure.
 */
double mtrack_weight(uint64_t size, uint64_t mean);

/* The "by code" section of heap.diff.txt from malloc tracking, at most max data lines. Pure. */
void mtrack_format(FILE *f, const struct mtrack_result *r, size_t max);

/* One sentence for the manifest: what was tracked, how long, and what it cost. Pure. */
void mtrack_describe(const struct mtrack_result *r, uint64_t sample_bytes, double budget,
		     char *buf, size_t len);

#endif
