/* metric: the names, units and sources of every metric hound samples. */
#include "lib/metric.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"

static const struct metric_info metrics[M_COUNT] = {
	[M_CPU] = {"cpu", UNIT_PERCENT, false, false},
	[M_CPU_LIMIT] = {"cpu_limit", UNIT_PERCENT, false, false},
	[M_RSS] = {"rss", UNIT_BYTES, false, false},
	[M_RSS_ANON] = {"rss_anon", UNIT_BYTES, false, false},
	[M_MEM] = {"mem", UNIT_PERCENT, false, false},
	[M_THREADS] = {"threads", UNIT_COUNT, false, false},
	[M_FDS] = {"fds", UNIT_COUNT, false, false},
	[M_SCHED_WAIT] = {"sched_wait", UNIT_MS_PER_S, false, false},
	[M_PSI_MEMORY] = {"psi_memory", UNIT_PERCENT, false, false},
	[M_PSI_CPU] = {"psi_cpu", UNIT_PERCENT, false, false},
	[M_GOROUTINES] = {"goroutines", UNIT_COUNT, true, false},
	[M_HEAP_INUSE] = {"heap_inuse", UNIT_BYTES, true, false},
	[M_HEAP_ALLOC] = {"heap_alloc", UNIT_BYTES, true, false},
	[M_HEAP_RELEASED] = {"heap_released", UNIT_BYTES, true, false},
	[M_GC_PAUSE] = {"gc_pause", UNIT_SECONDS, true, false},
	[M_GC_CPU] = {"gc_cpu", UNIT_PERCENT, true, false},
	[M_SERIES] = {"series", UNIT_COUNT, true, true},
	[M_DEADLOCKED] = {"deadlocked", UNIT_COUNT, false, false},
	[M_LOCK_WAIT] = {"lock_wait", UNIT_SECONDS, false, false},
	[M_PROMETHEUS] = {"prometheus", UNIT_COUNT, false, false},
	[M_EXPVAR] = {"expvar", UNIT_COUNT, false, false},
	[M_HEAP_LIVE] = {"heap_live", UNIT_BYTES, true, false},
};

const struct metric_info *metric_info(enum metric_id id)
{
	return (unsigned)id < M_COUNT ? &metrics[id] : NULL;
}

int metric_by_name(const char *name)
{
	for (int i = 0; i < M_COUNT; i++)
		if (!strcmp(metrics[i].name, name))
			return i;
	return -1;
}

void metric_format(enum metric_id id, double v, char *buf, unsigned len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	const struct metric_info *mi = metric_info(id);

	if (!mi || !isfinite(v)) {
		snprintf(buf, len, "%g", v);
		return;
	}
	switch (mi->unit) {
	case UNIT_BYTES: {
		unsigned u = 0;
		double x = v;
		while (fabs(x) >= 1024 && u + 1 < ARRAY_LEN(units)) {
			x /= 1024;
			u++;
		}
		if (u == 0)
			snprintf(buf, len, "%.0fB", x);
		else
			snprintf(buf, len, "%.1f%s", x, units[u]);
		break;
	}
	case UNIT_PERCENT:
		snprintf(buf, len, "%.1f%%", v);
		break;
	case UNIT_COUNT:
		/* A target's own series may be a rate or a fraction: keep what is not whole. */
		if (v == floor(v) || fabs(v) >= 1e6)
			snprintf(buf, len, "%.0f", v);
		else
			snprintf(buf, len, "%.4g", v);
		break;
	case UNIT_MS_PER_S:
		snprintf(buf, len, "%.1fms/s", v);
		break;
	case UNIT_SECONDS:
		if (v < 1)
			snprintf(buf, len, "%.2fms", v * 1000);
		else
			snprintf(buf, len, "%.2fs", v);
		break;
	}
}

static const char *const kind_names[K_COUNT] = {
	[K_STACKS] = "stacks",
	[K_CPU] = "cpu",
	[K_HEAP] = "heap",
	[K_GOROUTINES] = "goroutines",
	[K_ALLOCS] = "allocs",
	[K_BLOCK] = "block",
	[K_MUTEX] = "mutex",
	[K_THREADCREATE] = "threadcreate",
	[K_TRACE] = "trace",
	[K_COMMAND] = "command",
	[K_LOCKS] = "locks",
	[K_FDS] = "fds",
	[K_HEAP_DUMP] = "heap_dump",
	[K_CORE] = "core",
};

const char *capture_kind_name(enum capture_kind k)
{
	return (unsigned)k < K_COUNT ? kind_names[k] : "unknown";
}

int capture_kind_by_name(const char *name)
{
	for (int i = 0; i < K_COUNT; i++)
		if (!strcmp(kind_names[i], name))
			return i;
	return -1;
}

bool capture_kind_native(enum capture_kind k)
{
	return k == K_STACKS || k == K_CPU || k == K_HEAP || k == K_COMMAND || k == K_LOCKS ||
	       k == K_FDS || k == K_CORE;
}

bool capture_kind_has_duration(enum capture_kind k)
{
	return k == K_CPU || k == K_TRACE || k == K_HEAP;
}

bool capture_kind_jvm_only(enum capture_kind k)
{
	return k == K_HEAP_DUMP;
}

bool metric_jvm(enum metric_id id)
{
	return id == M_HEAP_INUSE || id == M_HEAP_LIVE || id == M_GC_PAUSE || id == M_GC_CPU;
}
