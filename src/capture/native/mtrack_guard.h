/* mtrack_guard: the cost guard of malloc tracking (what a probed allocator call costs, and the plan). */
#ifndef HOUND_MTRACK_GUARD_H
#define HOUND_MTRACK_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Shortest tracking worth doing: below it the capture refuses. */
#define MTRACK_GUARD_MIN_MS 1000

/*
 * The CPU time one malloc+free pair costs a process with the probes
 * attached (uprobe traps dominate: microseconds, whatever the program does),
 * measured on a child of hound that calls malloc/free with and without the
 * probes. Measured once per hound process and cached; a failed measure is
 * retried next time. Returns 0 and *ns, or -errno with a sentence in err.
 */
int mtrack_guard_pair_cost(uint64_t sample_bytes, double *ns, char *err, size_t errlen);

/* What the guard decided. */
struct mtrack_plan {
	int64_t duration_ms; /* how long to track; 0 when refused */
	double cost_cores;   /* the estimated cost while tracking, in cores */
	bool shortened, refused;
};

/*
 * The plan for a target that calls the allocator calls_per_s times a
 * second (entries of allocation functions or free, whichever is larger),
 * each pair costing pair_ns: track for want_ms when the cost stays within
 * budget (a fraction of one core), else shorten so the whole capture costs
 * what want_ms within budget would, and refuse when that is under
 * MTRACK_GUARD_MIN_MS. Pure.
 */
void mtrack_guard_plan(double calls_per_s, double pair_ns, double budget, int64_t want_ms,
		       struct mtrack_plan *out);

#endif
