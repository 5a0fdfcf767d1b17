/* api_json_status: renders `hound status` from the API's JSON (part of the jansson module). */
#include "api/api_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "lib/metric.h"
#include "lib/units.h"

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static double num(json_t *o, const char *k, double dflt)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

static bool flag(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

static json_t *parse(const char *text)
{
	json_t *v;
	if (!text)
		return NULL;
	v = json_loads(text, 0, NULL);
	if (v && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

static void fmt_metric(const char *metric, double v, char *buf, size_t len)
{
	int id = metric_by_name(metric ? metric : "");
	if (id < 0)
		snprintf(buf, len, "%g", v);
	else
		metric_format((enum metric_id)id, v, buf, (unsigned)len);
}

static void fmt_duration(double ms, char *buf, size_t len)
{
	if (ms >= 1000)
		ms = (double)((long long)(ms / 1000) * 1000); /* whole seconds read better */
	units_format_duration((int64_t)ms, buf, len);
}

/* "rss-spike: min 256MiB, diff 25%, abs 2GiB" */
static void rule_thresholds(json_t *r, char *out, size_t len)
{
	const char *m = str(r, "metric");
	char v[UNITS_FMT_LEN];
	size_t n = (size_t)snprintf(out, len, "%s:", str(r, "name") ? str(r, "name") : "?");
	const char *sep = " ";

	if (json_object_get(r, "min")) {
		fmt_metric(m, num(r, "min", 0), v, sizeof(v));
		n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%smin %s", sep, v);
		sep = ", ";
	}
	if (json_object_get(r, "diff") && n < len) {
		n +=
		    (size_t)snprintf(out + n, len - n, "%sdiff %g%%", sep, num(r, "diff", 0) * 100);
		sep = ", ";
	}
	if (json_object_get(r, "abs") && n < len) {
		fmt_metric(m, num(r, "abs", 0), v, sizeof(v));
		n += (size_t)snprintf(out + n, len - n, "%sabs %s", sep, v);
		sep = ", ";
	}
	if (json_object_get(r, "trend_slope_per_s") && n < len) {
		fmt_metric(m, num(r, "trend_slope_per_s", 0) * 3600, v, sizeof(v));
		n += (size_t)snprintf(out + n, len - n, "%strend %s/h", sep, v);
		sep = ", ";
	}
	if (json_object_get(r, "forecast_ms") && n < len) {
		fmt_duration(num(r, "forecast_ms", 0), v, sizeof(v));
		n += (size_t)snprintf(out + n, len - n, "%sforecast %s", sep, v);
		sep = ", ";
	}
	if (json_object_get(r, "below") && n < len) {
		fmt_metric(m, num(r, "below", 0), v, sizeof(v));
		n += (size_t)snprintf(out + n, len - n, "%sbelow %s", sep, v);
		sep = ", ";
	}
	if (json_object_get(r, "stalled_ms") && n < len) {
		fmt_duration(num(r, "stalled_ms", 0), v, sizeof(v));
		n += (size_t)snprintf(out + n, len - n, "%sstalled %s", sep, v);
		sep = ", ";
	}
}

/* One line for a JVM: its collector, threads and safepoint share, or why there are no metrics. */
static void print_jvm(FILE *out, json_t *j)
{
	if (!json_is_object(j))
		return;
	if (!flag(j, "perfdata")) {
		fprintf(out, "    jvm: %s\n", str(j, "status") ? str(j, "status") : "no PerfData");
		return;
	}
	fprintf(out, "    jvm: %s %s, %lld live threads, %.1f%% at safepoints, %lld GCs\n",
		str(j, "gc") ? str(j, "gc") : "?", str(j, "version") ? str(j, "version") : "",
		(long long)num(j, "threads", 0), json_number_value(json_object_get(j, "safepoint_pct")),
		(long long)num(j, "gc_count", 0));
}

static void print_process(FILE *out, json_t *t, json_t *p)
{
	json_t *rules = json_object_get(t, "rules"), *states = json_object_get(p, "rules");
	json_t *metrics = json_object_get(p, "metrics");
	const char *key;
	json_t *v;
	char val[UNITS_FMT_LEN], thr[256], left[UNITS_FMT_LEN];

	fprintf(out, "  pid %-7lld %-16s started %s  samples %lld%s%s\n",
		(long long)num(p, "pid", 0), str(p, "comm") ? str(p, "comm") : "?",
		str(p, "started_at") ? str(p, "started_at") : "?", (long long)num(p, "samples", 0),
		flag(p, "warm") ? "" : "  (warming up)",
		flag(p, "capturing") ? "  [capturing]" : "");
	if (str(p, "go_error"))
		fprintf(out, "    go endpoint error: %s\n", str(p, "go_error"));
	if (str(p, "locks_error"))
		fprintf(out, "    lock graph error: %s\n", str(p, "locks_error"));
	if (str(p, "series_error"))
		fprintf(out, "    target series error: %s\n", str(p, "series_error"));
	print_jvm(out, json_object_get(p, "jvm"));
	json_object_foreach(metrics, key, v)
	{
		if (json_is_number(v))
			fmt_metric(key, json_number_value(v), val, sizeof(val));
		else
			snprintf(val, sizeof(val), "-");
		bool any = false;
		for (size_t i = 0; i < json_array_size(rules); i++) {
			json_t *r = json_array_get(rules, i), *st = json_array_get(states, i);
			/* A rule on the target's own series is listed under that series. */
			const char *rm = str(r, "series") ? str(r, "series") : str(r, "metric");
			if (!rm || strcmp(rm, key) != 0)
				continue;
			rule_thresholds(r, thr, sizeof(thr));
			fprintf(out, "    %-13s %-11s %s; streak %lld/%lld", any ? "" : key,
				any ? "" : val, thr, (long long)num(st, "streak", 0),
				(long long)num(r, "for", 1));
			if (flag(st, "cooling")) {
				fmt_duration(num(st, "cooldown_left_ms", 0), left, sizeof(left));
				fprintf(out, "; cooling, %s left", left);
			}
			fprintf(out, "\n");
			any = true;
		}
		if (!any)
			fprintf(out, "    %-13s %s\n", key, val);
	}
}

static void print_targets(FILE *out, json_t *root)
{
	json_t *targets = json_object_get(root, "targets");
	char win[UNITS_FMT_LEN];
	for (size_t i = 0; i < json_array_size(targets); i++) {
		json_t *t = json_array_get(targets, i);
		json_t *procs = json_object_get(t, "processes"),
		       *lim = json_object_get(t, "limits");
		json_t *caps = json_object_get(t, "captures");
		fmt_duration(num(lim, "window_ms", 0), win, sizeof(win));
		fprintf(out,
			"\ntarget %s: %zu process%s, bundles %lld ok / %lld failed, limit "
			"%lld/%lld per %s\n",
			str(t, "name") ? str(t, "name") : "?", json_array_size(procs),
			json_array_size(procs) == 1 ? "" : "es", (long long)num(caps, "ok", 0),
			(long long)num(caps, "failed", 0), (long long)num(lim, "used", 0),
			(long long)num(lim, "max_captures", 0), win);
		if (json_array_size(procs) == 0)
			fprintf(out, "  no process matches\n");
		for (size_t j = 0; j < json_array_size(procs); j++)
			print_process(out, t, json_array_get(procs, j));
	}
}

static void print_captures(FILE *out, json_t *root)
{
	json_t *caps = json_object_get(root, "captures");
	fprintf(out, "\nrecent bundles (newest first):\n");
	if (json_array_size(caps) == 0)
		fprintf(out, "  none yet\n");
	for (size_t i = 0; i < json_array_size(caps) && i < 20; i++) {
		json_t *c = json_array_get(caps, i);
		fprintf(out, "  %-40s target %-12s pid %-7lld %-6s %-6s errors %lld  upload %s\n",
			str(c, "id") ? str(c, "id") : "?",
			str(c, "target") ? str(c, "target") : "?", (long long)num(c, "pid", 0),
			str(c, "trigger") ? str(c, "trigger") : "?",
			flag(c, "ok") ? "ok" : "failed", (long long)num(c, "errors", 0),
			str(c, "upload") ? str(c, "upload") : "?");
	}
}

int api_status_render(FILE *out, const char *addr, long health_status, const char *health,
		      const char *targets, const char *captures)
{
	json_t *h = parse(health), *t = parse(targets), *c = parse(captures);
	char iv[UNITS_FMT_LEN];
	int rc = 0;

	if ((health && !h) || (targets && !t) || (captures && !c)) {
		rc = -EINVAL;
		goto out;
	}
	double age = h ? num(h, "last_tick_age_ms", -1) : -1;
	fprintf(out, "hound at %s: %s", addr, health_status == 200 ? "healthy" : "UNHEALTHY");
	if (age >= 0)
		fprintf(out, ", last tick %.1fs ago", age / 1000.0);
	if (t) {
		units_format_duration((int64_t)num(t, "interval_ms", 0), iv, sizeof(iv));
		fprintf(out, ", interval %s, %zu target%s", iv,
			json_array_size(json_object_get(t, "targets")),
			json_array_size(json_object_get(t, "targets")) == 1 ? "" : "s");
	}
	fprintf(out, "\n");
	if (h && str(h, "error"))
		fprintf(out, "  %s\n", str(h, "error"));
	json_t *fds = t ? json_object_get(t, "fds") : NULL;
	if (fds && num(fds, "degraded_processes", 0) > 0)
		fprintf(out,
			"  DEGRADED: %.0f processes sampled without kept files (open file limit "
			"%.0f, %.0f kept, %.0f reserved for the API, captures and uploads)\n",
			num(fds, "degraded_processes", 0), num(fds, "limit", 0), num(fds, "kept", 0),
			num(fds, "reserve", 0));
	if (t)
		print_targets(out, t);
	if (c)
		print_captures(out, c);
out:
	json_decref(h);
	json_decref(t);
	json_decref(c);
	return rc;
}
