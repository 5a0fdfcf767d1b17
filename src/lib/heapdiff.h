/* heapdiff: what grew between two Go heap profiles, by function (go tool pprof -base, offline). */
#ifndef HOUND_HEAPDIFF_H
#define HOUND_HEAPDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/pprof_decode.h"

struct heapdiff_entry {
	char *func;                          /* owned by the heapdiff */
	int64_t base_bytes, now_bytes;       /* inuse_space */
	int64_t base_objects, now_objects;   /* inuse_objects */
};

/*
 * flat: each sample is charged to its innermost application frame (the first
 * frame, from the leaf, outside the Go runtime and standard library; else the
 * first outside the runtime; else the leaf). cum: charged to every distinct
 * function on the stack. Both are sorted by inuse_space growth, largest first.
 */
struct heapdiff {
	struct heapdiff_entry *flat, *cum;
	size_t nflat, ncum;
	int64_t base_bytes, now_bytes, base_objects, now_objects;
	int64_t base_time_ns, now_time_ns;
	/* alloc_space/alloc_objects between the two, flat (base_ and now_ fields) */
	struct heapdiff_entry *alloc;
	size_t nalloc;
	/*
	 * One standard deviation (bytes) of the in-use growth that the heap
	 * profiles' sampling alone makes, from the objects allocated or freed
	 * between the two (0 without alloc_space samples).
	 */
	int64_t inuse_noise;
};

/*
 * Whether the in-use heap grew meaningfully: by at least 1 MiB, 5% of the
 * baseline, and three times inuse_noise (a churn of small garbage moves the
 * sampled in-use figure by a few sampling periods either way). Pure.
 */
bool heapdiff_grew(const struct heapdiff *d);

/*
 * Diffs two decoded heap profiles (they need inuse_space and inuse_objects
 * sample types). Returns 0 and *out (free with heapdiff_free) or -EINVAL
 * with a sentence in err. Pure: no I/O.
 */
int heapdiff_compute(const struct pprof_profile *base, const struct pprof_profile *now,
		     struct heapdiff **out, char *err, size_t errlen);
void heapdiff_free(struct heapdiff *d);

/* The frame key the flat view uses for a function name: 2 application, 1 std library, 0 runtime. */
int heapdiff_frame_class(const char *func);

/*
 * Writes the report (top n of each view) to f. When the in-use heap did not
 * grow, the alloc_space view comes first: it names the code behind a burst
 * that was freed again (RSS that stayed up).
 */
void heapdiff_format(const struct heapdiff *d, FILE *f, size_t n);

/*
 * Decodes base_path and now_path and writes the report to out_path
 * (heap.diff.txt). Returns 0 or -errno/-EINVAL with err filled.
 */
int heapdiff_write(const char *base_path, const char *now_path, const char *out_path,
		   char *err, size_t errlen);

/*
 * For `hound report`: prints the header and the first n lines of the flat
 * view of a heap.diff.txt. Returns 0 or -errno.
 */
int heapdiff_print_top(const char *diff_path, FILE *out, int n);

#endif
