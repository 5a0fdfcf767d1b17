/* gometrics: Go runtime metrics of one target from /debug/vars, pprof and Prometheus text. */
#ifndef HOUND_GOMETRICS_H
#define HOUND_GOMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/goparse.h"
#include "agent/proc.h"
#include "lib/metric.h"

/* The metrics a go_sampler can fill. */
#define GO_METRICS_MASK                                                                       \
	(METRIC_BIT(M_GOROUTINES) | METRIC_BIT(M_HEAP_INUSE) | METRIC_BIT(M_HEAP_ALLOC) |    \
	 METRIC_BIT(M_HEAP_RELEASED) | METRIC_BIT(M_GC_PAUSE) | METRIC_BIT(M_GC_CPU) |       \
	 METRIC_BIT(M_SERIES) | METRIC_BIT(M_HEAP_LIVE))

/* How often the goroutine profile header is fetched when there is no go.metrics. */
#define GO_GOROUTINE_PROFILE_EVERY_MS 10000
/* Response caps: /debug/vars and a Prometheus page. */
#define GO_VARS_MAX_BYTES ((uint64_t)4 << 20)
#define GO_METRICS_MAX_BYTES ((uint64_t)256 << 20)

typedef struct go_sampler go_sampler;

/*
 * A sampler for one Go target: go_url serves /debug/vars and /debug/pprof/;
 * metrics_url (may be NULL) serves Prometheus text. Owns one HTTP handle
 * (keep-alive); not thread-safe. Returns 0 and *out (free with
 * go_sampler_free) or -EINVAL for an unusable URL.
 */
int go_sampler_new(const char *go_url, const char *metrics_url, go_sampler **out);

/*
 * The process's start (Unix ms, from /proc), which turns the runtime's
 * cumulative GCCPUFraction into a recent gc_cpu. Unset, gc_cpu is the
 * cumulative figure.
 */
void go_sampler_set_start(go_sampler *g, int64_t start_wall_ms);

/*
 * The target's GOGC percentage (from its environment: 100 when unset, -1
 * for off), which turns the runtime's next GC goal into heap_live.
 */
void go_sampler_set_gogc(go_sampler *g, int gogc);

/*
 * Fetches what need_mask requires (only GO_METRICS_MASK bits matter) and sets
 * those values and valid bits in out; every other field of out is left as it
 * was. Each request times out after half the interval (200 ms .. 5 s), so a
 * slow endpoint cannot stall the sampling loop. Returns 0, or the first
 * failure as -errno with err set ("GET http://127.0.0.1:6060/debug/vars:
 * connection refused"); metrics from the requests that worked are still
 * filled in.
 */
int go_sampler_sample(go_sampler *g, uint64_t need_mask, int64_t interval_ms,
		      struct proc_sample *out, char *err, size_t errlen);

/* Failed requests since the sampler was created. */
uint64_t go_sampler_errors(const go_sampler *g);
void go_sampler_free(go_sampler *g);

#endif
