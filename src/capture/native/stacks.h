/* stacks: every thread's stack of a native process, as eu-stack style text and as pprof. */
#ifndef HOUND_STACKS_H
#define HOUND_STACKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "capture/kind.h"

/* What one dump measured. */
struct stacks_stats {
	size_t nthreads;	/* threads attempted */
	size_t nok;		/* threads unwound */
	size_t nframes;		/* frames written */
	int64_t unwind_ns;	/* the ptrace pass */
	int64_t symbolize_ns;	/* everything after it */
	int64_t median_stop_ns; /* median time one thread stayed stopped */
	int64_t max_stop_ns;
	size_t ngone;		/* threads that exited before they could be unwound */
	char first_err[160];	/* the first other per-thread error, "" when none */
};

/* stacks_dump flags: add source file:line (slower the first time a module is seen). */
#define STACKS_LINES 1u

/*
 * Unwinds every thread of pid, then symbolizes with the target running, and
 * writes the text to text (when not NULL) and the pprof profile (one sample
 * per thread, labels tid and thread) to pprof_path (when not NULL). Per-thread
 * errors appear in the text. Returns 0, or -errno with a sentence in err: the
 * whole capture failed (nothing written), or -ESRCH when the process exited
 * midway (what was captured is still written). stats may be NULL.
 */
int stacks_dump(pid_t pid, unsigned flags, FILE *text, const char *pprof_path,
		struct stacks_stats *stats, char *err, size_t errlen);

/* Capture kind `stacks`: writes stacks.txt and stacks.pb.gz into the bundle. */
int stacks_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		   size_t errlen);

#endif
