/* jvmperf: GC and heap metrics of a JVM from its mapped PerfData file (no attach, no safepoint). */
#ifndef HOUND_JVMPERF_H
#define HOUND_JVMPERF_H

#include <stddef.h>
#include <stdint.h>

#include "agent/proc.h"
#include "lib/metric.h"

/* The metrics a jvm_sampler fills. */
#define JVM_METRICS_MASK                                                                           \
	(METRIC_BIT(M_HEAP_INUSE) | METRIC_BIT(M_HEAP_LIVE) | METRIC_BIT(M_GC_PAUSE) |             \
	 METRIC_BIT(M_GC_CPU))

/* Bounds of the counter index: HotSpot's collectors have at most 3 collectors and 5 spaces. */
#define JVM_MAX_COLLECTORS 8
#define JVM_MAX_SPACES 16

typedef struct jvm_sampler jvm_sampler;

/* What the status view shows beside the metrics. */
struct jvm_view {
	char gc[64];            /* sun.gc.policy.name: "GarbageFirst" */
	char version[64];       /* java.property.java.vm.version */
	int64_t threads;        /* java.threads.live */
	uint64_t safepoints;    /* sun.rt.safepoints */
	double safepoint_pct;   /* share of wall time at safepoints over the last interval */
	uint64_t gc_count;      /* invocations, all collectors */
};

/*
 * Maps a PerfData file read-only (the mapping outlives the file: a JVM that
 * exits unlinks it, and the last values stay readable) and indexes the
 * counters hound reads. Returns 0 and *out (free with jvm_sampler_free),
 * -EAGAIN when the JVM has not finished initialising it, or -errno / -EINVAL
 * with err set.
 */
int jvm_sampler_open(const char *path, jvm_sampler **out, char *err, size_t errlen);
void jvm_sampler_free(jvm_sampler *j);

/*
 * One sample: sets heap_inuse, heap_live, gc_pause and gc_cpu in out (valid
 * bits too) and refreshes the view. Reads mapped memory only: no system
 * call, no allocation. wall_ms is hound's clock, used when the JVM's own
 * clock counter has not moved. Returns 0, or -EINVAL when the region no
 * longer parses.
 */
int jvm_sampler_sample(jvm_sampler *j, int64_t mono_ms, struct proc_sample *out);

/* The latest view (copied). */
void jvm_sampler_view(const jvm_sampler *j, struct jvm_view *out);

#endif
