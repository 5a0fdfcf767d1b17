/* heapfaults: which code makes a native process's memory resident (a page-fault profile). */
#ifndef HOUND_HEAPFAULTS_H
#define HOUND_HEAPFAULTS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "bundle/bundle.h"
#include "capture/native/perf_profile.h"

/* What the fault profile found; top is charged to the program's own code. */
struct heapfaults_result {
	struct perf_profile_fn *top; /* largest bytes first */
	size_t ntop;
	int64_t faults;	 /* every page fault seen */
	int64_t touched; /* faults * page size */
	int64_t bytes;	 /* of it, still resident at the end */
	int64_t duration_ms;
	uint64_t samples, lost;
	size_t threads;
	bool process_gone;
};

/*
 * Samples the page faults of every thread of pid for dur_ms (or until *stop
 * or the process exits): every fault while the process faults less than
 * 500 pages a second, else a random one in N standing for N (see
 * heapfaults_next_period). Unwinds each sampled user stack and writes
 * faults.pb.gz (sample types faults/count: every fault; resident/bytes:
 * pages still resident at the end, charged to the stack of their last
 * fault) and faults.folded (weighted by resident bytes) into the bundle. Returns 0 and fills
 * out (heapfaults_result_fini), or -errno with a sentence in err
 * (perf_event_open refused: perf_event_paranoid, CAP_PERFMON).
 */
int heapfaults_capture(pid_t pid, int64_t dur_ms, volatile sig_atomic_t *stop, bundle *b,
		       struct heapfaults_result *out, char *err, size_t errlen);
void heapfaults_result_fini(struct heapfaults_result *r);

/*
 * The sampling period for the next slice after faults were seen in ms:
 * 1 while the rate is under the budget (500 faults a second), else a random
 * period whose mean is rate / budget (at most 256). *rnd is the generator's
 * state. Pure.
 */
uint64_t heapfaults_next_period(uint64_t faults, int64_t ms, uint64_t *rnd);

/*
 * The frame class used to pick the function a fault is charged to: 3 for
 * the executable itself (exe, as /proc/PID/exe names it), 2 for other
 * files that are not a system runtime library, 1 for libc, the loader,
 * libstdc++ and allocators, 0 for no file. Pure.
 */
int heapfaults_frame_class(const char *module, const char *exe);

/*
 * Writes the "by code" section of heap.diff.txt: a header and at most max
 * data lines "resident faults function (file:line) [module]". Pure.
 */
void heapfaults_format(FILE *f, const struct heapfaults_result *r, size_t max);

/* "14.4 MiB", "512 KiB", "900 B" into buf. Pure. */
void heapfaults_fmt_bytes(int64_t v, char *buf, size_t len);

#endif
