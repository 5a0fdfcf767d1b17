/* rules: per-metric sample history and pure rule evaluation (Holmes' formula, trend, forecast). */
#include "agent/rules.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metric.h"
#include "lib/util.h"

/* The fit must explain the data this well before trend or forecast fire. */
#define MIN_R2 0.8
/* A fit needs this many points spanning at least half its window. */
#define MIN_POINTS 6
/* Trend buckets per window: bounds the buffer to TREND_BUCKETS + 1 points. */
#define TREND_BUCKETS 360
/*
 * Threshold comparisons tolerate this relative error, so a value that equals
 * a bound up to floating-point rounding (avg * 1.25 computed two ways) is
 * treated as equal: it fires for diff and min, and does not for abs.
 */
#define REL_EPS 1e-9

void hist_init(struct metric_hist *h, int history, int64_t trend_window_ms, int64_t interval_ms)
{
	memset(h, 0, sizeof(*h));
	h->cap = history < 1 ? 1 : history;
	/* one block for the three rings: a watched process has one history per used metric */
	h->vals = xcalloc((size_t)h->cap, sizeof(*h->vals) + sizeof(*h->mono_ms) + sizeof(*h->wall_ms));
	h->mono_ms = (int64_t *)(void *)(h->vals + h->cap);
	h->wall_ms = h->mono_ms + h->cap;
	h->cur_bucket = -1;
	if (trend_window_ms <= 0)
		return;
	int64_t b = (trend_window_ms + TREND_BUCKETS - 1) / TREND_BUCKETS;
	if (interval_ms > b)
		b = interval_ms;
	h->trend_window_ms = trend_window_ms;
	h->bucket_ms = b;
	/* Completed buckets that can overlap the window; the open one makes +1. */
	h->tcap = (int)((trend_window_ms + b - 1) / b);
	h->pts = xcalloc((size_t)h->tcap, sizeof(*h->pts));
}

void hist_fini(struct metric_hist *h)
{
	free(h->vals); /* the block that holds mono_ms and wall_ms too */
	free(h->pts);
	memset(h, 0, sizeof(*h));
}

static void trend_push(struct metric_hist *h, int64_t mono_ms, double v)
{
	int64_t b = mono_ms / h->bucket_ms;

	if (h->cur_bucket >= 0 && b > h->cur_bucket && h->cur_n > 0) {
		h->pts[h->thead] =
		    (struct trend_point){h->cur_sum_t / h->cur_n, h->cur_sum_v / h->cur_n};
		h->thead = (h->thead + 1) % h->tcap;
		if (h->tn < h->tcap)
			h->tn++;
		h->cur_n = 0;
		h->cur_sum_t = h->cur_sum_v = 0;
	}
	/* A clock that went backwards keeps filling the open bucket. */
	if (h->cur_bucket < 0 || b > h->cur_bucket)
		h->cur_bucket = b;
	h->cur_sum_t += (double)mono_ms;
	h->cur_sum_v += v;
	h->cur_n++;
}

void hist_push(struct metric_hist *h, int64_t mono_ms, int64_t wall_ms, double v)
{
	h->vals[h->head] = v;
	h->mono_ms[h->head] = mono_ms;
	h->wall_ms[h->head] = wall_ms;
	h->head = (h->head + 1) % h->cap;
	if (h->n < h->cap)
		h->n++;
	if (h->pts && isfinite(v))
		trend_push(h, mono_ms, v);
}

int hist_count(const struct metric_hist *h)
{
	return h->n;
}

double hist_last(const struct metric_hist *h)
{
	if (h->n == 0)
		return 0;
	return h->vals[(h->head + h->cap - 1) % h->cap];
}

static double hist_sum(const struct metric_hist *h)
{
	double s = 0;
	for (int i = 0; i < h->n; i++)
		s += h->vals[i];
	return s;
}

double hist_avg(const struct metric_hist *h)
{
	return h->n ? hist_sum(h) / h->n : 0;
}

size_t hist_export(const struct metric_hist *h, struct history_point *out, size_t max)
{
	size_t n = (size_t)h->n < max ? (size_t)h->n : max;
	/* The newest n samples, oldest first. */
	int start = (h->head + h->cap - (int)n) % h->cap;
	for (size_t i = 0; i < n; i++) {
		int k = (start + (int)i) % h->cap;
		out[i].wall_ms = h->wall_ms[k];
		out[i].value = h->vals[k];
	}
	return n;
}

int hist_trend_count(const struct metric_hist *h)
{
	return h->tn + (h->cur_n > 0 ? 1 : 0);
}

size_t hist_memory_bytes(const struct metric_hist *h)
{
	return (size_t)h->cap * (sizeof(double) + 2 * sizeof(int64_t)) +
	       (size_t)h->tcap * sizeof(struct trend_point);
}

/* A least-squares line over the trend points newer than now - window. */
struct fit {
	int n;
	double span_ms;
	double slope; /* units per second */
	double r2;
	double at_now; /* the line's value at now */
};

static void fit_add(double *sx, double *sy, double *sxx, double *sxy, double *syy, double x,
		    double y)
{
	*sx += x;
	*sy += y;
	*sxx += x * x;
	*sxy += x * y;
	*syy += y * y;
}

static void trend_fit(const struct metric_hist *h, int64_t now_ms, int64_t window_ms, struct fit *f)
{
	double cutoff = (double)(now_ms - window_ms), origin = (double)now_ms;
	double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, tmin = 0, tmax = 0;
	int n = 0;

	memset(f, 0, sizeof(*f));
	/* x in seconds relative to now keeps the sums well conditioned. */
	for (int i = 0; i <= h->tn; i++) {
		struct trend_point p;
		if (i < h->tn) {
			p = h->pts[(h->thead + h->tcap - h->tn + i) % h->tcap];
		} else {
			if (h->cur_n == 0)
				break;
			p = (struct trend_point){h->cur_sum_t / h->cur_n, h->cur_sum_v / h->cur_n};
		}
		if (p.t_ms < cutoff || p.t_ms > origin)
			continue;
		if (n == 0 || p.t_ms < tmin)
			tmin = p.t_ms;
		if (n == 0 || p.t_ms > tmax)
			tmax = p.t_ms;
		fit_add(&sx, &sy, &sxx, &sxy, &syy, (p.t_ms - origin) / 1000.0, p.v);
		n++;
	}
	f->n = n;
	f->span_ms = tmax - tmin;
	if (n < 2)
		return;
	double cxx = sxx - sx * sx / n, cxy = sxy - sx * sy / n, cyy = syy - sy * sy / n;
	if (cxx <= 0)
		return;
	f->slope = cxy / cxx;
	/* Flat data has nothing for a line to explain: no trend. */
	f->r2 = cyy > 0 ? (cxy * cxy) / (cxx * cyy) : 0;
	/* At x = 0 (now): mean(y) - slope * mean(x). */
	f->at_now = sy / n - f->slope * (sx / n);
}

static bool fit_enough(const struct fit *f, int64_t window_ms)
{
	return f->n >= MIN_POINTS && f->span_ms * 2 >= (double)window_ms;
}

/* "200ms", "45s", "4m12s", "6h", "1d2h". */
static void fmt_dur(double ms, char *buf, size_t len)
{
	static const struct {
		char unit;
		int64_t ms;
	} parts[] = {{'d', 86400000}, {'h', 3600000}, {'m', 60000}, {'s', 1000}};
	if (ms < 0)
		ms = 0;
	if (ms < 1000) {
		snprintf(buf, len, "%.0fms", ms);
		return;
	}
	int64_t left = llround(ms / 1000.0) * 1000;
	size_t used = 0;
	int shown = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(parts) && shown < 2; i++) {
		int64_t q = left / parts[i].ms;
		if (q == 0 && shown == 0)
			continue;
		left -= q * parts[i].ms;
		shown++;
		if (q == 0)
			continue;
		int w = snprintf(buf + used, len - used, "%lld%c", (long long)q, parts[i].unit);
		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
}

/* A rate in the metric's unit per the largest time unit not above window. */
static void fmt_rate(enum metric_id m, double per_s, int64_t window_ms, char *buf, size_t len)
{
	char v[48];
	const char *unit = "s";
	double k = 1;
	if (window_ms >= 3600000) {
		unit = "h";
		k = 3600;
	} else if (window_ms >= 60000) {
		unit = "m";
		k = 60;
	}
	metric_format(m, per_s * k, v, sizeof(v));
	snprintf(buf, len, "%s/%s", v, unit);
}

/* Sets the verdict's reason (vsnprintf: a long reason is cut, never overflows). */
static void set_reason(struct rule_verdict *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_reason(struct rule_verdict *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* Appends to the verdict's reason, keeping it terminated. */
static void reason_append(struct rule_verdict *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reason_append(struct rule_verdict *out, const char *fmt, ...)
{
	size_t used = strlen(out->reason);
	va_list ap;
	if (used + 1 >= sizeof(out->reason))
		return;
	va_start(ap, fmt);
	vsnprintf(out->reason + used, sizeof(out->reason) - used, fmt, ap);
	va_end(ap);
}

const char *rules_metric_name(const struct rule_conf *r)
{
	return r->own.query ? r->own.query : metric_info(r->metric)->name;
}

static bool eval_thresholds(const struct rule_conf *r, const struct metric_hist *h,
			    struct rule_verdict *out)
{
	const char *name = rules_metric_name(r);
	char v[48], a[48], t[48];
	double value = hist_last(h), sum = hist_sum(h);

	out->value = value;
	out->avg = sum / h->n;
	metric_format(r->metric, value, v, sizeof(v));
	metric_format(r->metric, out->avg, a, sizeof(a));
	if (r->has_abs && value > r->abs + fabs(r->abs) * REL_EPS) {
		metric_format(r->metric, r->abs, t, sizeof(t));
		out->condition = "abs";
		out->threshold = r->abs;
		set_reason(out, "%s %s > abs %s", name, v, t);
		return true;
	}
	if (r->has_diff) {
		/* sum * (1 + diff) / n rather than avg * (1 + diff): exact for round inputs. */
		double thr = sum * (1 + r->diff) / h->n;
		if (value >= thr - fabs(thr) * REL_EPS) {
			out->condition = "diff";
			out->threshold = thr;
			set_reason(out, "%s %s >= %.3g x avg %s (diff %g%%)", name, v, 1 + r->diff,
				   a, r->diff * 100);
			return true;
		}
	}
	if (r->has_min && !r->has_abs && !r->has_diff) {
		metric_format(r->metric, r->min, t, sizeof(t));
		out->condition = "min";
		out->threshold = r->min;
		set_reason(out, "%s %s >= min %s", name, v, t);
		return true;
	}
	set_reason(out, "%s %s within bounds (avg %s)", name, v, a);
	return false;
}

static bool eval_trend(const struct rule_conf *r, const struct metric_hist *h, int64_t now,
		       struct rule_verdict *out)
{
	const char *name = rules_metric_name(r);
	char s[64], t[64], w[32];
	struct fit f;

	trend_fit(h, now, r->trend_window_ms, &f);
	fmt_dur((double)r->trend_window_ms, w, sizeof(w));
	if (!fit_enough(&f, r->trend_window_ms)) {
		char span[32];
		fmt_dur(f.span_ms, span, sizeof(span));
		set_reason(out, "%s trend: %d points over %s, needs %d over half of %s", name, f.n,
			   span, MIN_POINTS, w);
		return false;
	}
	fmt_rate(r->metric, f.slope, r->trend_window_ms, s, sizeof(s));
	fmt_rate(r->metric, r->trend_slope, r->trend_window_ms, t, sizeof(t));
	bool hit = f.slope >= r->trend_slope - fabs(r->trend_slope) * REL_EPS && f.r2 >= MIN_R2;
	set_reason(out, "%s grew %s over %s (R² %.2f)%s slope %s%s", name, s, w, f.r2,
		   hit ? " >=" : ", threshold", t,
		   !hit && f.r2 < MIN_R2 ? ", fit below R² 0.80" : "");
	if (!hit)
		return false;
	out->condition = "trend";
	out->value = f.slope;
	out->threshold = r->trend_slope;
	return true;
}

static bool eval_forecast(const struct rule_conf *r, const struct metric_hist *h, int64_t now,
			  double mem_limit, struct rule_verdict *out)
{
	const struct metric_info *mi = metric_info(r->metric);
	char v[48], l[48], s[64], hz[32], eta[32];
	double limit;
	struct fit f;

	if (r->metric == M_MEM)
		limit = 100;
	else if (mi->unit == UNIT_BYTES && mem_limit > 0)
		limit = mem_limit;
	else {
		set_reason(out, "%s forecast: no memory limit known", mi->name);
		return false;
	}
	trend_fit(h, now, r->forecast_ms, &f);
	fmt_dur((double)r->forecast_ms, hz, sizeof(hz));
	metric_format(r->metric, limit, l, sizeof(l));
	if (!fit_enough(&f, r->forecast_ms)) {
		set_reason(out, "%s forecast: %d points, needs %d over half of %s", mi->name, f.n,
			   MIN_POINTS, hz);
		return false;
	}
	fmt_rate(r->metric, f.slope, r->forecast_ms, s, sizeof(s));
	metric_format(r->metric, hist_last(h), v, sizeof(v));
	if (f.slope <= 0 || f.r2 < MIN_R2) {
		set_reason(out, "%s %s not heading for limit %s (slope %s, R² %.2f)", mi->name, v,
			   l, s, f.r2);
		return false;
	}
	double eta_s = (limit - f.at_now) / f.slope;
	fmt_dur(eta_s * 1000, eta, sizeof(eta));
	if (eta_s > (double)r->forecast_ms / 1000.0) {
		set_reason(out,
			   "%s %s forecast to reach limit %s in %s, beyond %s (slope %s, R² %.2f)",
			   mi->name, v, l, eta, hz, s, f.r2);
		return false;
	}
	set_reason(out, "%s %s forecast to reach limit %s in %s, within %s (slope %s, R² %.2f)",
		   mi->name, v, l, eta, hz, s, f.r2);
	out->condition = "forecast";
	out->value = hist_last(h);
	out->threshold = limit;
	return true;
}

/* below: the newest sample at or under the bound, once the ring is full. */
static bool eval_below(const struct rule_conf *r, const struct metric_hist *h,
		       struct rule_verdict *out)
{
	char v[48], b[48];
	double value = hist_last(h);

	metric_format(r->metric, value, v, sizeof(v));
	metric_format(r->metric, r->below, b, sizeof(b));
	if (h->n < h->cap) {
		out->warming = true;
		set_reason(out, "%s warming up (%d/%d samples)", rules_metric_name(r), h->n, h->cap);
		return false;
	}
	if (value > r->below + fabs(r->below) * REL_EPS) {
		set_reason(out, "%s %s above below %s", rules_metric_name(r), v, b);
		return false;
	}
	out->condition = "below";
	out->value = value;
	out->threshold = r->below;
	set_reason(out, "%s %s <= below %s", rules_metric_name(r), v, b);
	return true;
}

/* stalled: the value has not changed since st->changed_ms for at least the duration. */
static bool eval_stalled(const struct rule_conf *r, const struct rule_state *st,
			 const struct metric_hist *h, int64_t now, struct rule_verdict *out)
{
	char v[48], d[32], lim[32];
	int64_t same = now - st->changed_ms;

	metric_format(r->metric, hist_last(h), v, sizeof(v));
	fmt_dur((double)same, d, sizeof(d));
	fmt_dur((double)r->stalled_ms, lim, sizeof(lim));
	if (same < r->stalled_ms) {
		set_reason(out, "%s %s unchanged for %s, stalled after %s", rules_metric_name(r), v,
			   d, lim);
		return false;
	}
	out->condition = "stalled";
	out->value = hist_last(h);
	out->threshold = (double)r->stalled_ms / 1000.0;
	set_reason(out, "%s %s unchanged for %s >= stalled %s", rules_metric_name(r), v, d, lim);
	return true;
}

static bool eval_cond(const struct rule_conf *r, const struct rule_state *st,
		      const struct metric_hist *h, int64_t now, double mem_limit,
		      struct rule_verdict *out)
{
	const char *name = rules_metric_name(r);
	bool has_thr = r->has_min || r->has_diff || r->has_abs;

	if (h->n == 0) {
		set_reason(out, "%s: no samples yet", name);
		out->warming = true;
		return false;
	}
	out->value = hist_last(h);
	out->avg = hist_avg(h);
	/* min gates every condition of the rule: never fire below it. */
	if (r->has_min && out->value < r->min - fabs(r->min) * REL_EPS) {
		char v[48], m[48];
		metric_format(r->metric, out->value, v, sizeof(v));
		metric_format(r->metric, r->min, m, sizeof(m));
		set_reason(out, "%s %s below min %s", name, v, m);
		out->warming = has_thr && h->n < h->cap;
		return false;
	}
	if (has_thr) {
		if (h->n < h->cap) {
			out->warming = true;
			set_reason(out, "%s warming up (%d/%d samples)", name, h->n, h->cap);
		} else if (eval_thresholds(r, h, out)) {
			return true;
		}
	}
	if (r->has_below && eval_below(r, h, out))
		return true;
	if (r->has_stalled && eval_stalled(r, st, h, now, out))
		return true;
	if (r->has_trend && eval_trend(r, h, now, out))
		return true;
	if (r->has_forecast && eval_forecast(r, h, now, mem_limit, out))
		return true;
	return false;
}

void rules_eval(const struct rule_conf *r, struct rule_state *st, const struct metric_hist *h,
		int64_t now_mono_ms, double mem_limit, struct rule_verdict *out)
{
	int need = r->for_n < 1 ? 1 : r->for_n;

	memset(out, 0, sizeof(*out));
	/* Every sample counts for stalled, whatever gates the rule below. */
	if (h->n > 0) {
		double v = hist_last(h);
		if (!st->seen || v != st->last_value || (st->rate && v != 0)) {
			st->seen = true;
			st->last_value = v;
			st->changed_ms = now_mono_ms;
		}
	}
	out->cond = eval_cond(r, st, h, now_mono_ms, mem_limit, out);
	if (out->cond) {
		if (st->streak < INT_MAX)
			st->streak++;
	} else {
		st->streak = 0;
	}
	out->cooling = st->fired && now_mono_ms - st->last_fire_ms < r->cooldown_ms;
	out->fire = out->cond && st->streak >= need && !out->cooling;
	if (out->cond && st->streak < need)
		reason_append(out, " (%d/%d consecutive)", st->streak, need);
	if (out->cond && out->cooling) {
		char left[32];
		fmt_dur((double)(st->last_fire_ms + r->cooldown_ms - now_mono_ms), left,
			sizeof(left));
		reason_append(out, "; cooling down, %s left", left);
	}
}

void rules_mark_fired(struct rule_state *st, int64_t now_mono_ms)
{
	st->fired = true;
	st->last_fire_ms = now_mono_ms;
	st->streak = 0;
}

void limit_init(struct limit_state *l, int max_captures)
{
	l->cap = max_captures < 1 ? 1 : max_captures;
	l->n = 0;
	l->times = xcalloc((size_t)l->cap, sizeof(*l->times));
}

void limit_fini(struct limit_state *l)
{
	free(l->times);
	memset(l, 0, sizeof(*l));
}

void limit_resize(struct limit_state *l, int max_captures)
{
	int cap = max_captures < 1 ? 1 : max_captures;
	if (cap == l->cap)
		return;
	int64_t *t = xcalloc((size_t)cap, sizeof(*t));
	int keep = l->n < cap ? l->n : cap;
	/* times[] is kept oldest first; keep the newest `keep`. */
	memcpy(t, l->times + (l->n - keep), (size_t)keep * sizeof(*t));
	free(l->times);
	l->times = t;
	l->cap = cap;
	l->n = keep;
}

bool limit_allow(const struct limit_state *l, int max_captures, int64_t window_ms,
		 int64_t now_mono_ms)
{
	int in_window = 0;
	if (max_captures <= 0)
		return false;
	for (int i = 0; i < l->n; i++)
		if (l->times[i] > now_mono_ms - window_ms)
			in_window++;
	return in_window < max_captures;
}

void limit_record(struct limit_state *l, int64_t now_mono_ms)
{
	if (l->n == l->cap) {
		memmove(l->times, l->times + 1, (size_t)(l->cap - 1) * sizeof(*l->times));
		l->n--;
	}
	l->times[l->n++] = now_mono_ms;
}
