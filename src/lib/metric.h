/* metric: the names, units and sources of every metric hound samples. */
#ifndef HOUND_METRIC_H
#define HOUND_METRIC_H

#include <stdbool.h>
#include <stdint.h>

enum metric_id {
	M_CPU,          /* % of one core over the last interval */
	M_CPU_LIMIT,    /* % of the cgroup CPU quota */
	M_RSS,          /* bytes */
	M_RSS_ANON,     /* bytes */
	M_MEM,          /* % of the memory limit */
	M_THREADS,      /* count */
	M_FDS,          /* count */
	M_SCHED_WAIT,   /* ms of run-queue wait per second */
	M_PSI_MEMORY,   /* % some avg10 */
	M_PSI_CPU,      /* % some avg10 */
	M_GOROUTINES,   /* count (Go) */
	M_HEAP_INUSE,   /* bytes (Go) */
	M_HEAP_ALLOC,   /* bytes (Go) */
	M_HEAP_RELEASED,/* bytes (Go) */
	M_GC_PAUSE,     /* seconds (Go) */
	M_GC_CPU,       /* % (Go) */
	M_SERIES,       /* count (Go metrics endpoint) */
	M_DEADLOCKED,   /* threads in a lock wait-for cycle */
	M_LOCK_WAIT,    /* seconds: the longest current wait on a held lock */
	M_PROMETHEUS,   /* a series of the target's Prometheus endpoint (rule->own) */
	M_EXPVAR,       /* a value of the target's expvar JSON (rule->own) */
	M_HEAP_LIVE,    /* bytes: Go heap live at the last GC; JVM old generation */
	M_COUNT
};

enum metric_unit { UNIT_PERCENT, UNIT_BYTES, UNIT_COUNT, UNIT_MS_PER_S, UNIT_SECONDS };

struct metric_info {
	const char *name;
	enum metric_unit unit;
	bool go;          /* needs go.url / go.metrics */
	bool needs_metrics_url; /* only from go.metrics */
};

const struct metric_info *metric_info(enum metric_id id);
/* Returns the id for a name, or -1. */
int metric_by_name(const char *name);
/* Formats a value in the metric's unit ("256.0MiB", "52.3%", "17"). */
void metric_format(enum metric_id id, double v, char *buf, unsigned len);

#define METRIC_BIT(id) (UINT64_C(1) << (id))

/* Capture kinds (SPEC section 2, "Capture kinds"). */
enum capture_kind {
	K_STACKS,
	K_CPU,
	K_HEAP,
	K_GOROUTINES,
	K_ALLOCS,
	K_BLOCK,
	K_MUTEX,
	K_THREADCREATE,
	K_TRACE,
	K_COMMAND,
	K_LOCKS,
	K_FDS,
	K_HEAP_DUMP,    /* JVM: heap.hprof.gz */
	K_CORE,
	K_COUNT
};

const char *capture_kind_name(enum capture_kind k);
int capture_kind_by_name(const char *name); /* -1 when unknown */
/* True when the kind works without go.url (native processes). */
bool capture_kind_native(enum capture_kind k);
/* True when the kind exists only on JVM targets (heap_dump). */
bool capture_kind_jvm_only(enum capture_kind k);
/*
 * True for the metrics a JVM target gives from its PerfData without go.url:
 * heap_inuse, heap_live, gc_pause, gc_cpu.
 */
bool metric_jvm(enum metric_id id);
/* True when the kind takes a duration ({cpu: 30s}). */
bool capture_kind_has_duration(enum capture_kind k);

#endif
