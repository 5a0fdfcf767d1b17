/* perf_profile: aggregates sampled call chains, symbolizes them and writes pprof and folded stacks.
 */
#ifndef HOUND_PERF_PROFILE_H
#define HOUND_PERF_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/native/symbolize.h"

typedef struct perf_profile perf_profile;

/* An empty profile. Free with perf_profile_free (NULL ok). */
perf_profile *perf_profile_new(void);
void perf_profile_free(perf_profile *p);

/*
 * Counts one sample of ns CPU nanoseconds for thread with the chain ips
 * (leaf first; all but ips[0] are return addresses). Copies everything.
 */
void perf_profile_add(perf_profile *p, const char *thread, const uint64_t *ips, size_t n,
		      int64_t ns);

/*
 * The id of the (thread, chain) stack, added with nothing counted when new,
 * for a caller that learns later what a sample is worth; then
 * perf_profile_charge adds to its two values.
 */
size_t perf_profile_intern(perf_profile *p, const char *thread, const uint64_t *ips, size_t n);
void perf_profile_charge(perf_profile *p, size_t stack, int64_t count, int64_t value);

/*
 * Symbolizes the program counters added since the last call (names, lines,
 * mappings are copied into the profile), so a target that exits later still
 * gets names. Call while the process is alive; never fails.
 */
void perf_profile_resolve(perf_profile *p, sym_proc *sp);

/*
 * Names the two values of each sample in the pprof (the defaults are
 * samples/count and cpu/nanoseconds) and, with folded_by_value, weights
 * the folded stacks by the second value instead of the sample count. The
 * strings must outlive the profile (literals).
 */
void perf_profile_set_types(perf_profile *p, const char *count_type, const char *count_unit,
			    const char *value_type, const char *value_unit, bool folded_by_value);

/*
 * Gives the profile a third and fourth value per sample (e.g. alloc_objects,
 * alloc_space beside inuse_objects, inuse_space), charged with
 * perf_profile_charge_extra; the pprof then has four sample types.
 */
void perf_profile_set_extra_types(perf_profile *p, const char *type2, const char *unit2,
				  const char *type3, const char *unit3);
void perf_profile_charge_extra(perf_profile *p, size_t stack, int64_t v2, int64_t v3);

/* One function of perf_profile_top, with the first source line seen for it. */
struct perf_profile_fn {
	char *function, *file, *module; /* owned; file and module may be NULL */
	int line;
	int64_t count, value;
};

/* The class of a frame: higher is closer to the program's own code. */
typedef int (*perf_frame_class_fn)(const char *function, const char *module, void *arg);

/*
 * Charges every stack to its innermost frame of the highest class (call
 * after perf_profile_resolve) and sums by function name, largest value
 * first. Returns the count; *out is malloc'd (perf_profile_fns_free).
 */
size_t perf_profile_top(const perf_profile *p, perf_frame_class_fn cls, void *arg,
			struct perf_profile_fn **out);
void perf_profile_fns_free(struct perf_profile_fn *f, size_t n);

size_t perf_profile_nsamples(const perf_profile *p);
/* Samples whose chain reaches root_fn (e.g. "main") from leaf_fn; for tests and benches. */
size_t perf_profile_count_chain(const perf_profile *p, const char *const *chain, size_t n);

/*
 * Writes the gzipped pprof profile (sample types samples/count, cpu/nanoseconds;
 * period cpu/nanoseconds period_ns; label "thread") to path. 0 or -errno.
 */
int perf_profile_write_pprof(const perf_profile *p, const char *path, int64_t time_wall_ns,
			     int64_t duration_ns, int64_t period_ns, const char *comment, char *err,
			     size_t errlen);
/* Writes collapsed stacks ("root;...;leaf count", one line per stack). 0 or -errno. */
int perf_profile_write_folded(const perf_profile *p, const char *path, char *err, size_t errlen);

#endif
