/* perf_profile: aggregates sampled call chains, symbolizes them and writes pprof and folded stacks.
 */
#ifndef HOUND_PERF_PROFILE_H
#define HOUND_PERF_PROFILE_H

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
 * Symbolizes the program counters added since the last call (names, lines,
 * mappings are copied into the profile), so a target that exits later still
 * gets names. Call while the process is alive; never fails.
 */
void perf_profile_resolve(perf_profile *p, sym_proc *sp);

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
