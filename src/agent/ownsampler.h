/* ownsampler: the values of a target's own series (Prometheus, expvar) for its rules. */
#ifndef HOUND_OWNSAMPLER_H
#define HOUND_OWNSAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct own_sampler own_sampler;

/* True when some rule of t reads a Prometheus series or an expvar value. */
bool own_sampler_needed(const struct target_conf *t);
/* A sampler for t's own-metric rules (one HTTP handle). 0 or -errno. */
int own_sampler_new(const struct target_conf *t, own_sampler **out);
void own_sampler_free(own_sampler *s);

/*
 * Fetches each endpoint the rules of t read once, and for each such rule i
 * sets v[i] and valid[i] (counters as a per-second rate, rate[i] true: valid
 * from the second sample on). A series or path that is missing, an endpoint that fails:
 * valid[i] false and the problem in err, every rule's joined by "; " ("rule
 * stopped: series jobs_total{q=\"a\"} not found at http://..."). Returns 0 when
 * every rule has a value or is waiting for its second counter sample, else the
 * first failure's -errno.
 */
int own_sampler_sample(own_sampler *s, const struct target_conf *t, int64_t mono_ms,
		       int64_t interval_ms, double *v, bool *valid, bool *rate, char *err,
		       size_t errlen);

#endif
