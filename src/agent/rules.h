/* rules: per-metric sample history and pure rule evaluation (Holmes' formula, trend, forecast). */
#ifndef HOUND_RULES_H
#define HOUND_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle/bundle.h"
#include "config/config.h"

/*
 * Nothing in this module reads a clock or a file: every time is passed in by
 * the caller (monotonic ms for durations, wall ms only for reporting), so the
 * evaluation is deterministic and table-tested.
 */

/* One down-sampled point of the trend buffer: the mean of one time bucket. */
struct trend_point {
	double t_ms;   /* mean monotonic time of the samples in the bucket */
	double v;      /* mean value */
};

/*
 * The history of one metric of one process: a ring of the last `history`
 * samples (for min/diff/abs and the manifest) and, when a trend window is
 * given, a ring of bucket means (bucket = max(interval, window / 360)) holding
 * at most window/bucket + 1 points, so memory is fixed at hist_init and never
 * grows with uptime. Embedded by the caller; hist_init/hist_fini own the arrays.
 */
struct metric_hist {
	int cap, n, head;         /* sample ring: capacity, count, next slot */
	double *vals;             /* owns one block: vals, then mono_ms, then wall_ms */
	int64_t *mono_ms, *wall_ms;

	int64_t trend_window_ms;  /* 0: no trend buffer */
	int64_t bucket_ms;
	int tcap, tn, thead;      /* completed-bucket ring */
	struct trend_point *pts;
	int64_t cur_bucket;       /* index of the open bucket, -1 when none */
	double cur_sum_t, cur_sum_v;
	int cur_n;
};

/* history < 1 is treated as 1. interval_ms is the sampling period. */
void hist_init(struct metric_hist *h, int history, int64_t trend_window_ms, int64_t interval_ms);
void hist_fini(struct metric_hist *h);
/* Adds a sample. Allocates nothing. */
void hist_push(struct metric_hist *h, int64_t mono_ms, int64_t wall_ms, double v);
int hist_count(const struct metric_hist *h);
/* The newest sample (0 when empty). */
double hist_last(const struct metric_hist *h);
/* Mean of the ring, including the newest sample (0 when empty). */
double hist_avg(const struct metric_hist *h);
/* Copies the ring, oldest first, into out (at most max); returns the count. */
size_t hist_export(const struct metric_hist *h, struct history_point *out, size_t max);
/* Trend points currently held, including the open bucket (for tests and /metrics). */
int hist_trend_count(const struct metric_hist *h);
/* Bytes allocated by this history (fixed after hist_init). */
size_t hist_memory_bytes(const struct metric_hist *h);

/* Per rule and per process. Zero-initialise it ({0}) for a new process. */
struct rule_state {
	int streak;            /* consecutive evaluations whose condition held */
	int64_t last_fire_ms;  /* monotonic */
	bool fired;            /* last_fire_ms is valid */
	bool rate;             /* set by the caller: the values are a counter's rate, so any
				  rate but 0 is progress (for stalled) */
	bool seen;             /* last_value and changed_ms are valid (for stalled) */
	double last_value;
	int64_t changed_ms;    /* monotonic: when the value last changed, or was first seen */
};

/*
 * The outcome of one evaluation. fire: capture now. cond: the condition held
 * on this sample (fire may still be false because of `for` or cooldown).
 * condition: which part held ("abs", "diff", "min", "below", "stalled",
 * "trend", "forecast") or NULL. For stalled value is the sample and threshold
 * the configured duration in seconds. For min/diff/abs value is the sample, avg the ring mean, threshold the
 * bound crossed; for trend value is the fitted slope (units per second) and
 * threshold the configured slope; for forecast value is the sample and
 * threshold the limit it will reach. reason is a sentence with the numbers,
 * also filled when nothing fires (warming up, cooling down, below min, ...).
 */
struct rule_verdict {
	bool fire, cond, cooling, warming;
	const char *condition;
	double value, avg, threshold;
	char reason[256];
};

/*
 * Evaluates r on h at now_mono_ms and updates st->streak. mem_limit is the
 * process's memory limit in bytes (cgroup or RAM), used by forecast on byte
 * metrics; forecast on `mem` uses 100 (%). Pure: no clock, no I/O.
 */
void rules_eval(const struct rule_conf *r, struct rule_state *st, const struct metric_hist *h,
		int64_t now_mono_ms, double mem_limit, struct rule_verdict *out);
/* The rule's metric as people wrote it: "rss", or the series/path of an own metric. */
const char *rules_metric_name(const struct rule_conf *r);
/* The caller took the capture: starts the cooldown and resets the streak. */
void rules_mark_fired(struct rule_state *st, int64_t now_mono_ms);

/*
 * Per-target capture limit (max_captures per window) over all its processes
 * and rules: a ring of the times of the last max_captures captures.
 * max_captures <= 0 allows nothing.
 */
struct limit_state {
	int64_t *times;
	int cap, n;
};

void limit_init(struct limit_state *l, int max_captures);
void limit_fini(struct limit_state *l);
/* Keeps the newest entries when max_captures changed (config reload). */
void limit_resize(struct limit_state *l, int max_captures);
/* True when fewer than max_captures captures happened in (now - window, now]. */
bool limit_allow(const struct limit_state *l, int max_captures, int64_t window_ms,
		 int64_t now_mono_ms);
/* Records a capture taken at now_mono_ms. */
void limit_record(struct limit_state *l, int64_t now_mono_ms);

#endif
