/* Unit tests for rules: history, Holmes' thresholds, for, cooldown, trend, forecast, limits. */
#include <stdint.h>
#include <string.h>

#include "agent/rules.h"
#include "lib/util.h"
#include "tap.h"

#define MIB (1024.0 * 1024.0)

static struct rule_conf rule(enum metric_id m)
{
	struct rule_conf r;
	memset(&r, 0, sizeof(r));
	r.name = (char *)"t";
	r.metric = m;
	r.for_n = 1;
	r.cooldown_ms = 600000;
	return r;
}

/* Pushes values at 1s spacing starting at t0 (ms); returns the last time. */
static int64_t push_all(struct metric_hist *h, int64_t t0, const double *v, int n)
{
	int64_t t = t0;
	for (int i = 0; i < n; i++) {
		t = t0 + (int64_t)i * 1000;
		hist_push(h, t, 1700000000000 + t, v[i]);
	}
	return t;
}

/* Evaluates r on a fresh history holding v (history = n) and returns the verdict. */
static struct rule_verdict eval_on(const struct rule_conf *r, int history, const double *v, int n)
{
	struct metric_hist h;
	struct rule_state st = {0};
	struct rule_verdict out;
	hist_init(&h, history, 0, 1000);
	int64_t t = push_all(&h, 0, v, n);
	rules_eval(r, &st, &h, t, 0, &out);
	hist_fini(&h);
	return out;
}

struct thr_case {
	const char *name;
	bool has_min, has_diff, has_abs;
	double min, diff, abs;
	int history;
	double v[4];
	int n;
	bool fire;
	const char *condition;
};

static void test_thresholds(void)
{
	/* clang-format off */
	static const struct thr_case cases[] = {
		{"min only: value equal to min fires", true, false, false, 50, 0, 0, 3,
		 {10, 10, 50}, 3, true, "min"},
		{"min only: value just below min does not", true, false, false, 50, 0, 0, 3,
		 {10, 10, 49.99}, 3, false, NULL},
		{"abs: value equal to abs does not fire (strictly greater)", false, false, true,
		 0, 0, 100, 3, {100, 100, 100}, 3, false, NULL},
		{"abs: value above abs fires", false, false, true, 0, 0, 100, 3, {100, 100, 100.5},
		 3, true, "abs"},
		{"diff: value equal to avg*(1+diff) fires", false, true, false, 0, 0.25, 0, 4,
		 {11, 11, 11, 15}, 4, true, "diff"},
		{"diff: value just below avg*(1+diff) does not", false, true, false, 0, 0.25, 0, 4,
		 {11, 11, 11, 14.99}, 4, false, NULL},
		{"diff: equality survives rounding (0.1,0.1,0.2 at 50%)", false, true, false, 0,
		 0.5, 0, 3, {0.1, 0.1, 0.2}, 3, true, "diff"},
		{"min gates diff: below min never fires", true, true, false, 100, 0.25, 0, 4,
		 {11, 11, 11, 50}, 4, false, NULL},
		{"min gates abs", true, false, true, 100, 0, 10, 3, {11, 11, 50}, 3, false, NULL},
		{"min reached, diff holds", true, true, false, 15, 0.25, 0, 4, {11, 11, 11, 15},
		 4, true, "diff"},
		{"abs wins over diff", false, true, true, 0, 0.25, 12, 4, {11, 11, 11, 15}, 4,
		 true, "abs"},
		{"min + abs: between min and abs does not fire", true, false, true, 10, 0, 100, 3,
		 {50, 50, 50}, 3, false, NULL},
	};
	/* clang-format on */
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct thr_case *c = &cases[i];
		struct rule_conf r = rule(M_THREADS);
		r.has_min = c->has_min;
		r.has_diff = c->has_diff;
		r.has_abs = c->has_abs;
		r.min = c->min;
		r.diff = c->diff;
		r.abs = c->abs;
		struct rule_verdict out = eval_on(&r, c->history, c->v, c->n);
		is_int(out.fire, c->fire, "%s", c->name);
		if (c->condition)
			is_str(out.condition, c->condition, "%s: condition", c->name);
	}
}

static void test_warmup(void)
{
	struct rule_conf r = rule(M_RSS);
	struct metric_hist h;
	struct rule_state st = {0};
	struct rule_verdict out;

	r.has_abs = true;
	r.abs = 100;
	hist_init(&h, 4, 0, 1000);
	for (int i = 0; i < 3; i++) {
		hist_push(&h, i * 1000, i * 1000, 500);
		rules_eval(&r, &st, &h, i * 1000, 0, &out);
		ok(!out.fire && !out.cond && out.warming, "sample %d of 4: warming, no fire",
		   i + 1);
	}
	ok(strstr(out.reason, "warming up (3/4 samples)") != NULL, "reason says warming: %s",
	   out.reason);
	hist_push(&h, 3000, 3000, 500);
	rules_eval(&r, &st, &h, 3000, 0, &out);
	ok(out.fire && !out.warming, "first sample after warm-up fires");
	is_str(out.condition, "abs", "condition abs");
	is_double(out.threshold, 100, 0, "threshold is abs");
	hist_fini(&h);

	/* A reused PID is a new process: a fresh history warms up again. */
	hist_init(&h, 4, 0, 1000);
	hist_push(&h, 4000, 4000, 500);
	struct rule_state st2 = {0};
	rules_eval(&r, &st2, &h, 4000, 0, &out);
	ok(!out.fire && out.warming, "fresh history (PID reuse) warms up again");
	hist_fini(&h);
}

static void test_reason(void)
{
	struct rule_conf r = rule(M_RSS);
	r.has_diff = true;
	r.diff = 0.25;
	double v[4] = {400 * MIB, 400 * MIB, 400 * MIB, 800 * MIB};
	struct rule_verdict out = eval_on(&r, 4, v, 4);
	ok(out.fire, "diff fires on rss");
	is_str(out.reason, "rss 800.0MiB >= 1.25 x avg 500.0MiB (diff 25%)", "diff reason");
	is_double(out.avg, 500 * MIB, 1e-6, "avg includes the current sample");
	is_double(out.threshold, 625 * MIB, 1e-6, "threshold avg*(1+diff)");

	r = rule(M_CPU);
	r.has_abs = true;
	r.abs = 180;
	double c[2] = {50, 190};
	out = eval_on(&r, 2, c, 2);
	is_str(out.reason, "cpu 190.0% > abs 180.0%", "abs reason");
}

static void test_for_reset(void)
{
	struct rule_conf r = rule(M_THREADS);
	struct metric_hist h;
	struct rule_state st = {0};
	struct rule_verdict out;
	/* abs 10, for 3: true true false true true true */
	static const double v[] = {20, 20, 5, 20, 20, 20};
	static const bool want_fire[] = {false, false, false, false, false, true};
	static const int want_streak[] = {1, 2, 0, 1, 2, 3};

	r.has_abs = true;
	r.abs = 10;
	r.for_n = 3;
	hist_init(&h, 1, 0, 1000);
	for (size_t i = 0; i < ARRAY_LEN(v); i++) {
		hist_push(&h, (int64_t)i * 1000, 0, v[i]);
		rules_eval(&r, &st, &h, (int64_t)i * 1000, 0, &out);
		is_int(out.fire, want_fire[i], "for 3, sample %zu (%g): fire=%d", i, v[i],
		       want_fire[i]);
		is_int(st.streak, want_streak[i], "for 3, sample %zu: streak", i);
		if (i == 4)
			ok(strstr(out.reason, "(2/3 consecutive)") != NULL, "reason: %s",
			   out.reason);
	}
	hist_push(&h, 10000, 0, 20);
	rules_mark_fired(&st, 5000);
	is_int(st.streak, 0, "mark_fired resets the streak");
	hist_fini(&h);
}

static void test_cooldown(void)
{
	struct rule_conf r = rule(M_THREADS);
	struct metric_hist h;
	struct rule_state st = {0};
	struct rule_verdict out;

	r.has_abs = true;
	r.abs = 10;
	r.cooldown_ms = 1000;
	hist_init(&h, 1, 0, 100);
	hist_push(&h, 100, 0, 20);
	rules_eval(&r, &st, &h, 100, 0, &out);
	ok(out.fire, "fires before any capture");
	rules_mark_fired(&st, 100);

	hist_push(&h, 1099, 0, 20);
	rules_eval(&r, &st, &h, 1099, 0, &out);
	ok(out.cond && out.cooling && !out.fire, "1ms before expiry: cond true, cooling, no fire");
	ok(strstr(out.reason, "cooling down, 1ms left") != NULL, "reason: %s", out.reason);

	hist_push(&h, 1100, 0, 20);
	rules_eval(&r, &st, &h, 1100, 0, &out);
	ok(out.fire && !out.cooling, "exactly at expiry: fires");

	/* Cooldown is per rule state: another process's state is independent. */
	struct rule_state other = {0};
	rules_eval(&r, &other, &h, 1100, 0, &out);
	ok(out.fire, "independent state is not cooling");
	hist_fini(&h);
}

/* Deterministic noise in [-1, 1]. */
static double noise(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return ((double)(*s >> 8) / (double)(1u << 24)) * 2 - 1;
}

/*
 * Feeds `seconds` samples at 1s: base + slope*t + amp*noise; returns the
 * verdict at the last sample.
 */
static struct rule_verdict run_series(const struct rule_conf *r, int64_t window_ms, int seconds,
				      double base, double slope, double amp, double mem_limit)
{
	struct metric_hist h;
	struct rule_state st = {0};
	struct rule_verdict out;
	uint32_t seed = 42;
	int64_t t = 0;

	hist_init(&h, 10, window_ms, 1000);
	for (int i = 0; i < seconds; i++) {
		t = 1000000 + (int64_t)i * 1000;
		hist_push(&h, t, t, base + slope * i + amp * noise(&seed));
	}
	rules_eval(r, &st, &h, t, mem_limit, &out);
	hist_fini(&h);
	return out;
}

static void test_trend(void)
{
	struct rule_conf r = rule(M_RSS);
	struct rule_verdict out;

	r.has_trend = true;
	r.trend_window_ms = 600000; /* 10m */
	r.trend_slope = 10 * 1024;  /* 10KiB/s */

	out = run_series(&r, r.trend_window_ms, 600, 100 * MIB, 20 * 1024, 0, 0);
	ok(out.fire, "clean 20KiB/s growth fires a 10KiB/s trend");
	is_str(out.condition, "trend", "condition trend");
	is_double(out.value, 20 * 1024, 1, "value is the fitted slope");
	ok(strstr(out.reason, "R² 1.00") != NULL, "reason: %s", out.reason);

	out = run_series(&r, r.trend_window_ms, 600, 100 * MIB, 20 * 1024, 600 * 1024, 0);
	ok(out.fire, "20KiB/s growth with 600KiB noise still fires (bucket means)");

	out = run_series(&r, r.trend_window_ms, 600, 100 * MIB, 20 * 1024, 40 * MIB, 0);
	ok(!out.fire && !out.cond, "same growth buried in 40MiB noise: R² < 0.8, no fire");
	ok(strstr(out.reason, "fit below R² 0.80") != NULL, "reason: %s", out.reason);

	out = run_series(&r, r.trend_window_ms, 600, 100 * MIB, 5 * 1024, 0, 0);
	ok(!out.fire, "clean 5KiB/s growth does not fire a 10KiB/s trend");

	out = run_series(&r, r.trend_window_ms, 600, 100 * MIB, 10 * 1024, 0, 0);
	ok(out.fire, "slope equal to the threshold fires");

	out = run_series(&r, r.trend_window_ms, 600, 100 * MIB, 0, 0, 0);
	ok(!out.fire, "flat data: no trend");

	out = run_series(&r, r.trend_window_ms, 240, 100 * MIB, 20 * 1024, 0, 0);
	ok(!out.fire, "4 minutes of a 10m window (less than half): no fire");
	ok(strstr(out.reason, "needs 6 over half of 10m") != NULL, "reason: %s", out.reason);

	out = run_series(&r, r.trend_window_ms, 320, 100 * MIB, 20 * 1024, 0, 0);
	ok(out.fire, "just over half the window covered: fires (%s)", out.reason);

	/* Short window: buckets of the interval, fewer than 6 points. */
	r.trend_window_ms = 5000;
	out = run_series(&r, r.trend_window_ms, 5, 100 * MIB, 20 * 1024, 0, 0);
	ok(!out.fire, "5 points never fire (needs 6)");
}

static void test_forecast(void)
{
	struct rule_conf r = rule(M_RSS);
	struct rule_verdict out;

	r.has_forecast = true;
	r.forecast_ms = 600000; /* 10m */
	/* 100MiB + 1MiB/s for 10 minutes: ~700MiB now. */
	out = run_series(&r, r.forecast_ms, 600, 100 * MIB, MIB, 0, 1024 * MIB);
	ok(out.fire, "reaches 1GiB in ~5.4m, within 10m: fires");
	is_str(out.condition, "forecast", "condition forecast");
	is_double(out.threshold, 1024 * MIB, 0, "threshold is the limit");
	ok(strstr(out.reason, "forecast to reach limit 1.0GiB in 5m25s") != NULL, "reason: %s",
	   out.reason);

	out = run_series(&r, r.forecast_ms, 600, 100 * MIB, MIB, 0, 2048 * MIB);
	ok(!out.fire && !out.cond, "reaches 2GiB in ~22m, beyond 10m: no fire");
	ok(strstr(out.reason, "beyond 10m") != NULL, "reason: %s", out.reason);

	out = run_series(&r, r.forecast_ms, 600, 100 * MIB, MIB, 800 * MIB, 1024 * MIB);
	ok(!out.fire, "same growth with 800MiB noise: R² < 0.8, no fire");

	out = run_series(&r, r.forecast_ms, 600, 900 * MIB, -MIB, 0, 1024 * MIB);
	ok(!out.fire, "shrinking: no fire");

	out = run_series(&r, r.forecast_ms, 600, 100 * MIB, MIB, 0, 0);
	ok(!out.fire, "no known limit: no fire");

	r.metric = M_MEM;
	/* 40% + 0.1%/s: 100% in 600s from the start, ~0s from now. */
	out = run_series(&r, r.forecast_ms, 600, 40, 0.1, 0, 0);
	ok(out.fire, "mem %% forecast against 100%%");
	out = run_series(&r, r.forecast_ms, 600, 10, 0.01, 0, 0);
	ok(!out.fire, "mem growing slowly: 100%% far beyond the horizon");
}

static void test_limits(void)
{
	struct limit_state l;
	limit_init(&l, 2);
	ok(limit_allow(&l, 2, 1000, 0), "empty: allowed");
	limit_record(&l, 0);
	limit_record(&l, 500);
	ok(!limit_allow(&l, 2, 1000, 600), "2 in window: refused");
	ok(!limit_allow(&l, 2, 1000, 999), "1ms before the first leaves: refused");
	ok(limit_allow(&l, 2, 1000, 1000), "the first left the window exactly: allowed");
	limit_record(&l, 1000);
	ok(!limit_allow(&l, 2, 1000, 1499), "500 and 1000 in window: refused");
	ok(limit_allow(&l, 2, 1000, 1500), "window slid past 500: allowed");
	is_int(l.n, 2, "ring keeps max_captures entries");
	limit_resize(&l, 3);
	ok(limit_allow(&l, 3, 1000, 1200), "raised to 3 on reload: allowed");
	limit_record(&l, 1200);
	ok(!limit_allow(&l, 3, 1000, 1300), "3 in window: refused");
	limit_resize(&l, 1);
	is_int(l.n, 1, "lowered to 1 keeps the newest");
	is_int(l.times[0], 1200, "newest kept");
	ok(!limit_allow(&l, 0, 1000, 5000), "max_captures 0 allows nothing");
	limit_fini(&l);
}

static void test_history(void)
{
	struct metric_hist h;
	struct history_point out[8];
	hist_init(&h, 3, 0, 1000);
	is_int(hist_count(&h), 0, "empty history");
	is_double(hist_avg(&h), 0, 0, "avg of nothing is 0");
	for (int i = 1; i <= 5; i++)
		hist_push(&h, i * 1000, 100 + i, i * 10.0);
	is_int(hist_count(&h), 3, "ring holds `history` samples");
	is_double(hist_last(&h), 50, 0, "last");
	is_double(hist_avg(&h), 40, 1e-12, "avg of 30,40,50");
	size_t n = hist_export(&h, out, 8);
	is_int(n, 3, "export count");
	ok(out[0].value == 30 && out[1].value == 40 && out[2].value == 50 && out[0].wall_ms == 103,
	   "export oldest first after wrap");
	n = hist_export(&h, out, 2);
	ok(n == 2 && out[0].value == 40 && out[1].value == 50, "export with max keeps the newest");
	hist_fini(&h);
}

static void test_memory_bounded(void)
{
	struct metric_hist h;
	struct rule_conf r = rule(M_RSS);
	struct rule_state st = {0};
	struct rule_verdict out;
	int64_t six_h = 6 * 3600 * 1000LL, t = 0;
	int max_pts = 0;

	hist_init(&h, 10, six_h, 1000);
	size_t bytes = hist_memory_bytes(&h);
	is_int(h.bucket_ms, 60000, "6h window at 1s: 60s buckets");
	ok(h.tcap + 1 <= 361, "at most 361 points per window (tcap %d)", h.tcap);
	/* 12 hours of 1s samples growing 1KiB/s. */
	for (int64_t i = 0; i < 12 * 3600; i++) {
		t = i * 1000;
		hist_push(&h, t, t, 100 * MIB + 1024.0 * (double)i);
		if (hist_trend_count(&h) > max_pts)
			max_pts = hist_trend_count(&h);
	}
	ok(max_pts <= 361, "never more than 361 points held (max %d)", max_pts);
	is_int(hist_memory_bytes(&h), bytes, "memory fixed at init (%zu bytes)", bytes);
	ok(bytes < 16 * 1024, "under 16KiB per metric");
	r.has_trend = true;
	r.trend_window_ms = six_h;
	r.trend_slope = 512;
	rules_eval(&r, &st, &h, t, 0, &out);
	ok(out.fire, "trend over the bounded 6h buffer fires: %s", out.reason);
	is_double(out.value, 1024, 1, "slope 1KiB/s recovered from bucket means");
	hist_fini(&h);
}

/* Evaluates after every sample (1 s apart); returns the index of the first firing, -1 when none. */
static int first_fire(const struct rule_conf *r, int history, const double *v, int n,
		      struct rule_verdict *last)
{
	struct metric_hist h;
	struct rule_state st = {0};
	int at = -1;
	hist_init(&h, history, 0, 1000);
	for (int i = 0; i < n; i++) {
		hist_push(&h, (int64_t)i * 1000, 1700000000000 + (int64_t)i * 1000, v[i]);
		rules_eval(r, &st, &h, (int64_t)i * 1000, 0, last);
		if (last->fire && at < 0)
			at = i;
		if (last->fire)
			break;
	}
	hist_fini(&h);
	return at;
}

static void test_below_stalled(void)
{
	/* clang-format off */
	static const struct {
		const char *name;
		bool below; double bound; int64_t stalled_ms;
		int history;
		double v[10];
		int n;
		int fire_at;
		const char *condition;
	} cases[] = {
		{"below: fires at the bound", true, 5, 0, 3, {9, 8, 5}, 3, 2, "below"},
		{"below: fires under the bound", true, 5, 0, 3, {9, 8, 7, 1}, 4, 3, "below"},
		{"below: not before warm-up", true, 5, 0, 3, {1, 1, 9}, 3, -1, NULL},
		{"below: waits for the ring, then fires", true, 5, 0, 3, {1, 1, 1, 1}, 4, 2, "below"},
		{"below: above the bound never fires", true, 5, 0, 2, {6, 7, 5.5, 9}, 4, -1, NULL},
		{"below 0 on a rate: fires at 0", true, 0, 0, 2, {3, 0.5, 0}, 3, 2, "below"},
		{"stalled 3s: fires 3 s after the last change", false, 0, 3000, 2,
		 {1, 2, 3, 3, 3, 3, 3}, 7, 5, "stalled"},
		{"stalled 3s: a change restarts the clock", false, 0, 3000, 2,
		 {1, 1, 1, 2, 2, 2, 2}, 7, 6, "stalled"},
		{"stalled 3s: a moving value never fires", false, 0, 3000, 2,
		 {1, 2, 3, 4, 5, 6, 7, 8}, 8, -1, NULL},
		{"stalled 3s: from the first sample, no warm-up needed", false, 0, 3000, 10,
		 {4, 4, 4, 4}, 4, 3, "stalled"},
		{"stalled 5s: not yet after 4 s", false, 0, 5000, 2, {4, 4, 4, 4, 4}, 5, -1, NULL},
	};
	/* clang-format on */
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct rule_conf r = rule(M_THREADS);
		struct rule_verdict out;
		r.has_below = cases[i].below;
		r.below = cases[i].bound;
		r.has_stalled = cases[i].stalled_ms > 0;
		r.stalled_ms = cases[i].stalled_ms;
		int at = first_fire(&r, cases[i].history, cases[i].v, cases[i].n, &out);
		is_int(at, cases[i].fire_at, "%s", cases[i].name);
		if (cases[i].condition)
			ok(out.condition && !strcmp(out.condition, cases[i].condition),
			   "%s: condition %s", cases[i].name, cases[i].condition);
	}

	struct rule_conf r = rule(M_THREADS);
	struct rule_verdict out;
	r.has_stalled = true;
	r.stalled_ms = 2000;
	double v[] = {7, 7, 7};
	first_fire(&r, 2, v, 3, &out);
	ok(strstr(out.reason, "threads 7 unchanged for 2s >= stalled 2s") != NULL,
	   "stalled reason: \"%s\"", out.reason);
	is_double(out.threshold, 2.0, 1e-9, "stalled threshold is the duration in seconds");
	/* A counter's rate: a steady non-zero rate is progress; 0 is the stall. */
	{
		struct metric_hist h;
		struct rule_state st = {.rate = true};
		struct rule_conf rr = rule(M_PROMETHEUS);
		double rates[] = {5, 5, 5, 5, 5, 0, 0, 0, 0};
		int at = -1;
		rr.own.query = (char *)"jobs_total";
		rr.has_stalled = true;
		rr.stalled_ms = 3000;
		hist_init(&h, 2, 0, 1000);
		for (int i = 0; i < 9 && at < 0; i++) {
			hist_push(&h, (int64_t)i * 1000, (int64_t)i * 1000, rates[i]);
			rules_eval(&rr, &st, &h, (int64_t)i * 1000, 0, &out);
			if (out.fire)
				at = i;
		}
		hist_fini(&h);
		is_int(at, 8, "rate: a steady 5/s never stalls, 0/s for 3 s does");
	}
	r = rule(M_PROMETHEUS);
	r.own.query = (char *)"jobs_done_total";
	r.has_below = true;
	r.below = 1;
	double w[] = {0.25, 0.25};
	first_fire(&r, 2, w, 2, &out);
	ok(strstr(out.reason, "jobs_done_total 0.25 <= below 1") != NULL,
	   "an own metric is named by its series, fractions kept: \"%s\"", out.reason);
}

int main(void)
{
	test_below_stalled();
	test_thresholds();
	test_warmup();
	test_reason();
	test_for_reset();
	test_cooldown();
	test_trend();
	test_forecast();
	test_limits();
	test_history();
	test_memory_bounded();
	return done_testing();
}
