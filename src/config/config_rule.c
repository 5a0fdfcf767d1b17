/* config_rule: the rules of a target and capture lists. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "lib/ownquery.h"
#include "lib/units.h"
#include "lib/util.h"

static void bad_at(struct cfg *x, const char *key, yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void bad_at(struct cfg *x, const char *key, yaml_node_t *n, const char *fmt, ...)
{
	size_t m = key ? cfg_push(x, key) : x->pathlen;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_error(x, n, "%s", msg);
	cfg_pop(x, m);
}

bool cfg_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* ---- capture lists ------------------------------------------------------------------- */

void capture_list_fini(struct capture_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		for (char **a = l->items[i].argv; a && *a; a++)
			free(*a);
		free(l->items[i].argv);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static const char *kind_names[K_COUNT];

static int kind_lookup(struct cfg *x, yaml_node_t *at, const char *name)
{
	int k = capture_kind_by_name(name);
	const char *hint;

	if (k >= 0)
		return k;
	for (int i = 0; i < K_COUNT; i++)
		kind_names[i] = capture_kind_name((enum capture_kind)i);
	hint = cfg_suggest(name, kind_names, K_COUNT);
	if (hint)
		cfg_error(x, at, "unknown capture kind '%s', did you mean '%s'?", name, hint);
	else
		cfg_error(x, at, "unknown capture kind '%s'", name);
	return -1;
}

static int64_t default_duration(enum capture_kind k)
{
	return k == K_TRACE ? 5000 : k == K_CPU || k == K_HEAP ? 10000 : 0;
}

static const char *const command_keys[] = {"command", "timeout"};

static bool command_item(struct cfg *x, yaml_node_t *n, struct capture_item *it)
{
	yaml_node_t *v[2];
	yaml_node_item_t *items;
	long cnt;
	size_t m;

	it->kind = K_COMMAND;
	it->timeout_ms = 30000;
	if (!cfg_map(x, n, command_keys, 2, v))
		return false;
	if (!v[0]) {
		cfg_missing(x, n, "command");
		return false;
	}
	m = cfg_push(x, "command");
	if (v[0]->type != YAML_SEQUENCE_NODE) {
		cfg_error(x, v[0],
			  "expected an argument list (no shell), like [\"jcmd\", \"{pid}\", "
			  "\"Thread.print\"]");
		cfg_pop(x, m);
		return false;
	}
	cnt = cfg_seq(x, v[0], &items);
	if (cnt <= 0 || cnt > 256) {
		cfg_error(x, v[0], "needs between 1 and 256 arguments");
		cfg_pop(x, m);
		return false;
	}
	it->argv = xcalloc((size_t)cnt + 1, sizeof(char *));
	for (long i = 0; i < cnt; i++) {
		yaml_node_t *a = cfg_node(x, items[i]);
		size_t mi = cfg_push_index(x, (size_t)i);
		if (!a || cfg_str(x, NULL, a, &it->argv[i]) < 0)
			it->argv[i] = xstrdup("");
		else if (i == 0 && !it->argv[0][0])
			cfg_error(x, a, "the program name must not be empty");
		cfg_pop(x, mi);
	}
	cfg_pop(x, m);
	if (cfg_duration(x, "timeout", v[1], &it->timeout_ms) > 0 &&
	    (it->timeout_ms < 1000 || it->timeout_ms > 3600000))
		bad_at(x, "timeout", v[1], "must be between 1s and 1h");
	return true;
}

static bool capture_item(struct cfg *x, yaml_node_t *n, struct capture_item *it)
{
	yaml_node_t *k, *v;
	const char *name;
	int kind;
	size_t m;

	if (n->type == YAML_SCALAR_NODE) {
		char *s = NULL;
		if (cfg_str(x, NULL, n, &s) < 0)
			return false;
		kind = kind_lookup(x, n, s);
		if (kind == K_COMMAND)
			cfg_error(x, n,
				  "command needs an argument list: {command: [prog, arg...]}");
		free(s);
		if (kind < 0 || kind == K_COMMAND)
			return false;
		it->kind = (enum capture_kind)kind;
		it->duration_ms = default_duration(it->kind);
		return true;
	}
	if (n->type != YAML_MAPPING_NODE) {
		cfg_error(x, n, "expected a kind name like heap, {cpu: 30s} or {command: [...]}");
		return false;
	}
	if (n->data.mapping.pairs.top == n->data.mapping.pairs.start) {
		cfg_error(x, n, "empty capture item");
		return false;
	}
	k = cfg_node(x, n->data.mapping.pairs.start->key);
	v = cfg_node(x, n->data.mapping.pairs.start->value);
	if (!k || !v || k->type != YAML_SCALAR_NODE) {
		if (k && v)
			cfg_error(x, k, "expected a kind name");
		return false;
	}
	name = (const char *)k->data.scalar.value;
	if (strcmp(name, "command") == 0 || strcmp(name, "timeout") == 0)
		return command_item(x, n, it);
	if (n->data.mapping.pairs.top - n->data.mapping.pairs.start > 1) {
		cfg_error(x, n, "one kind per item, like {cpu: 30s}");
		return false;
	}
	kind = kind_lookup(x, k, name);
	if (kind < 0)
		return false;
	it->kind = (enum capture_kind)kind;
	if (!capture_kind_has_duration(it->kind)) {
		cfg_error(x, k, "'%s' takes no duration: write it as a plain name", name);
		return false;
	}
	m = cfg_push(x, name);
	if (cfg_duration(x, NULL, v, &it->duration_ms) > 0 &&
	    (it->duration_ms < 1000 || it->duration_ms > 600000))
		cfg_error(x, v, "must be between 1s and 10m");
	cfg_pop(x, m);
	return true;
}

void cfg_capture_list(struct cfg *x, const char *key, yaml_node_t *n, int go,
		      struct capture_list *out)
{
	yaml_node_item_t *items;
	size_t mark = cfg_push(x, key);
	long cnt = cfg_seq(x, n, &items);

	if (cnt == 0)
		cfg_error(x, n, "must name at least one capture kind");
	if (cnt > CFG_MAX_CAPTURES) {
		cfg_error(x, n, "at most %d captures", CFG_MAX_CAPTURES);
		cnt = 0;
	}
	if (cnt > 0)
		out->items = xcalloc((size_t)cnt, sizeof(*out->items));
	for (long i = 0; i < cnt; i++) {
		yaml_node_t *item = cfg_node(x, items[i]);
		struct capture_item *it = &out->items[out->n];
		size_t m;

		if (!item)
			break;
		m = cfg_push_index(x, (size_t)i);
		memset(it, 0, sizeof(*it));
		if (capture_item(x, item, it)) {
			const char *kn = capture_kind_name(it->kind);
			out->n++;
			if (go == 0 && !capture_kind_native(it->kind) && !capture_kind_jvm_only(it->kind))
				cfg_error(x, item,
					  "'%s' needs a Go target: set go.url for this target", kn);
			if (go == 1 && capture_kind_jvm_only(it->kind))
				cfg_error(x, item, "'%s' needs a JVM target, not a Go one (go.url is set)", kn);
			for (size_t j = 0; it->kind != K_COMMAND && j + 1 < out->n; j++)
				if (out->items[j].kind == it->kind) {
					cfg_error(x, item, "'%s' is listed twice", kn);
					break;
				}
		} else {
			for (char **a = it->argv; a && *a; a++)
				free(*a);
			free(it->argv);
			it->argv = NULL;
		}
		cfg_pop(x, m);
	}
	cfg_pop(x, mark);
}

/* ---- rules --------------------------------------------------------------------------- */

static int p_number(const char *s, void *o, const char **why)
{
	return units_parse_number(s, o, why);
}

/* ms of wait per second: a number, or a duration read as milliseconds. */
static int p_ms(const char *s, void *o, const char **why)
{
	int64_t ms;

	if (units_parse_number(s, o, why) == 0)
		return 0;
	if (units_parse_duration(s, &ms, why) < 0)
		return -EINVAL;
	*(double *)o = (double)ms;
	return 0;
}

/* Seconds: a number, or a duration. */
static int p_seconds(const char *s, void *o, const char **why)
{
	int64_t ms;

	if (units_parse_number(s, o, why) == 0)
		return 0;
	if (units_parse_duration(s, &ms, why) < 0)
		return -EINVAL;
	*(double *)o = (double)ms / 1000.0;
	return 0;
}

static int metric_value(struct cfg *x, const char *key, yaml_node_t *n, enum metric_unit u,
			double *out)
{
	uint64_t sz;
	int r;

	switch (u) {
	case UNIT_BYTES:
		r = cfg_size(x, key, n, &sz);
		if (r > 0)
			*out = (double)sz;
		return r;
	case UNIT_PERCENT:
		return cfg_percent(x, key, n, out);
	case UNIT_MS_PER_S:
		return cfg_typed(x, key, n, "milliseconds per second like 50 or 50ms", p_ms, out);
	case UNIT_SECONDS:
		return cfg_typed(x, key, n, "a duration like 100ms", p_seconds, out);
	case UNIT_COUNT:
	default:
		return cfg_typed(x, key, n, "a number like 100", p_number, out);
	}
}

struct slope_out {
	double v;
	enum units_slope_kind kind;
};

static int p_slope(const char *s, void *o, const char **why)
{
	struct slope_out *so = o;
	return units_parse_slope(s, &so->v, &so->kind, why);
}

static const char *const trend_keys[] = {"window", "slope"};

static void trend(struct cfg *x, yaml_node_t *n, struct rule_conf *r, enum metric_unit u)
{
	static const char *const examples[] = {[UNIT_PERCENT] = "a slope like 5%/h",
					       [UNIT_BYTES] = "a slope like 20MiB/h",
					       [UNIT_COUNT] = "a slope like 100/h",
					       [UNIT_MS_PER_S] = "a slope like 10/h",
					       [UNIT_SECONDS] = "a slope like 0.01/h"};
	static const char *const unit_names[] = {[UNIT_PERCENT] = "percent",
						 [UNIT_BYTES] = "bytes",
						 [UNIT_COUNT] = "counts",
						 [UNIT_MS_PER_S] = "ms per second",
						 [UNIT_SECONDS] = "seconds"};
	yaml_node_t *v[2];
	size_t mark = cfg_push(x, "trend");
	struct slope_out so;

	r->has_trend = true;
	if (!cfg_map(x, n, trend_keys, 2, v))
		goto out;
	if (!v[0])
		cfg_missing(x, n, "window");
	else if (cfg_duration(x, "window", v[0], &r->trend_window_ms) > 0 &&
		 (r->trend_window_ms < 60000 || r->trend_window_ms > 30LL * 86400000))
		bad_at(x, "window", v[0], "must be between 1m and 30d");
	if (!v[1]) {
		cfg_missing(x, n, "slope");
	} else if (cfg_typed(x, "slope", v[1], examples[u], p_slope, &so) > 0) {
		bool fits = u == UNIT_BYTES ? so.kind != SLOPE_PERCENT
					    : (u == UNIT_PERCENT) == (so.kind == SLOPE_PERCENT) &&
						  so.kind != SLOPE_SIZE;
		char *s = NULL;
		cfg_str(x, NULL, v[1], &s);
		if (!fits)
			bad_at(x, "slope", v[1], "expected %s for a metric in %s, got '%s'",
			       examples[u], unit_names[u], s);
		else if (so.v <= 0)
			bad_at(x, "slope", v[1], "must be greater than 0");
		r->trend_slope = so.v;
		free(s);
	}
out:
	cfg_pop(x, mark);
}

enum {
	R_NAME,
	R_METRIC,
	R_MIN,
	R_DIFF,
	R_ABS,
	R_FOR,
	R_COOLDOWN,
	R_TREND,
	R_FORECAST,
	R_CAPTURE,
	R_BELOW,
	R_STALLED,
	R_N
};
static const char *const rule_keys[R_N] = {"name",     "metric",  "min",   "diff",
					   "abs",      "for",     "cooldown", "trend",
					   "forecast", "capture", "below", "stalled"};

static void metric_names(const char **names)
{
	for (int i = 0; i < M_COUNT; i++)
		names[i] = metric_info((enum metric_id)i)->name;
}

static const char *const own_keys[] = {"prometheus", "expvar", "url"};

/* metric: {prometheus: 'NAME{label="v"}', url: URL} or {expvar: a.b.c, url: URL}. 0 or -1. */
static int own_metric(struct cfg *x, yaml_node_t *n, struct target_conf *t, struct rule_conf *r)
{
	yaml_node_t *v[3];
	size_t m = cfg_push(x, "metric");
	int rc = -1;

	if (!cfg_map(x, n, own_keys, 3, v))
		goto out;
	if (!v[0] == !v[1]) {
		cfg_error(x, n, "expected one of prometheus: 'NAME{label=\"v\"}' or expvar: a.b.c");
		goto out;
	}
	r->metric = v[0] ? M_PROMETHEUS : M_EXPVAR;
	if (cfg_str(x, v[0] ? "prometheus" : "expvar", v[0] ? v[0] : v[1], &r->own.query) <= 0)
		goto out;
	const char *why = NULL;
	if (r->metric == M_PROMETHEUS ? ownquery_check_selector(r->own.query, &why) < 0
				      : ownquery_check_path(r->own.query, &why) < 0) {
		bad_at(x, v[0] ? "prometheus" : "expvar", v[0] ? v[0] : v[1], "'%s': %s",
		       r->own.query, why);
		goto out;
	}
	if (cfg_str(x, "url", v[2], &r->own.url) > 0 && strncmp(r->own.url, "http://", 7) != 0 &&
	    strncmp(r->own.url, "https://", 8) != 0) {
		bad_at(x, "url", v[2], "expected a URL starting with http:// or https://");
		goto out;
	}
	if (!r->own.url && r->metric == M_PROMETHEUS && !t->go_metrics) {
		cfg_error(x, n, "no endpoint to read it from: add url: or set go.metrics");
		goto out;
	}
	if (!r->own.url && r->metric == M_EXPVAR && (!t->go_url || !t->go_url[0])) {
		cfg_error(x, n, "no endpoint to read it from: add url: or set go.url");
		goto out;
	}
	rc = 0;
out:
	cfg_pop(x, m);
	return rc;
}

void cfg_rule(struct cfg *x, yaml_node_t *n, struct target_conf *t, struct rule_conf *r)
{
	yaml_node_t *v[R_N];
	const struct metric_info *mi = NULL;
	char *metric = NULL;

	r->for_n = 1;
	r->cooldown_ms = 600000;
	r->pos.line = (unsigned)n->start_mark.line + 1;
	r->pos.column = (unsigned)n->start_mark.column + 1;
	if (!cfg_map(x, n, rule_keys, R_N, v))
		return;
	if (!v[R_NAME]) {
		cfg_missing(x, n, "name");
	} else if (cfg_str(x, "name", v[R_NAME], &r->name) > 0) {
		if (!cfg_name_ok(r->name))
			bad_at(x, "name", v[R_NAME],
			       "'%s' must match [a-z0-9][a-z0-9_-]* (at most 63 characters)",
			       r->name);
		else if (!strcmp(r->name, "api") || !strcmp(r->name, "alert") ||
			 !strcmp(r->name, "manual"))
			bad_at(x, "name", v[R_NAME],
			       "'%s' is reserved for bundles not made by a rule", r->name);
		for (struct rule_conf *o = t->rules; o < r; o++)
			if (o->name && !strcmp(o->name, r->name))
				bad_at(x, "name", v[R_NAME],
				       "duplicate rule name '%s' in this target", r->name);
	}
	if (!v[R_METRIC]) {
		cfg_missing(x, n, "metric");
	} else if (v[R_METRIC]->type == YAML_MAPPING_NODE) {
		if (own_metric(x, v[R_METRIC], t, r) == 0) {
			mi = metric_info(r->metric);
			/* No per-process history slot: a target's own series is kept per rule. */
		}
	} else if (cfg_str(x, "metric", v[R_METRIC], &metric) > 0) {
		int id = metric_by_name(metric);
		if (id < 0) {
			const char *names[M_COUNT], *hint;
			metric_names(names);
			hint = cfg_suggest(metric, names, M_COUNT);
			size_t m = cfg_push(x, "metric");
			if (hint)
				cfg_error(x, v[R_METRIC], "unknown metric '%s', did you mean '%s'?",
					  metric, hint);
			else
				cfg_error(x, v[R_METRIC], "unknown metric '%s'", metric);
			cfg_pop(x, m);
		} else if (id == M_PROMETHEUS || id == M_EXPVAR) {
			bad_at(x, "metric", v[R_METRIC],
			       "name the series: {prometheus: 'NAME{label=\"v\"}'} or {expvar: a.b.c}");
		} else {
			r->metric = (enum metric_id)id;
			mi = metric_info(r->metric);
			t->metric_mask |= METRIC_BIT(r->metric);
			if (mi->needs_metrics_url && !t->go_metrics)
				bad_at(
				    x, "metric", v[R_METRIC],
				    "'%s' is read from go.metrics: set go.metrics for this target",
				    metric);
			else if (mi->go && !t->go_url && !(metric_jvm(r->metric) && !t->jvm_off))
				bad_at(x, "metric", v[R_METRIC],
				       metric_jvm(r->metric)
					   ? "'%s' comes from a Go or JVM runtime: set go.url, or drop jvm: false"
					   : "'%s' is a Go metric: set go.url for this target",
				       metric);
		}
	}
	if (mi) {
		r->has_min = metric_value(x, "min", v[R_MIN], mi->unit, &r->min) > 0;
		r->has_abs = metric_value(x, "abs", v[R_ABS], mi->unit, &r->abs) > 0;
		if (v[R_TREND])
			trend(x, v[R_TREND], r, mi->unit);
	}
	if (cfg_percent(x, "diff", v[R_DIFF], &r->diff) > 0) {
		r->has_diff = true;
		r->diff /= 100.0;
		if (r->diff <= 0)
			bad_at(x, "diff", v[R_DIFF], "must be greater than 0%%");
	}
	if (cfg_int(x, "for", v[R_FOR], &r->for_n) > 0 && (r->for_n < 1 || r->for_n > 1000))
		bad_at(x, "for", v[R_FOR], "must be between 1 and 1000");
	cfg_duration(x, "cooldown", v[R_COOLDOWN], &r->cooldown_ms);
	if (cfg_duration(x, "forecast", v[R_FORECAST], &r->forecast_ms) > 0) {
		r->has_forecast = true;
		if (mi && r->metric != M_RSS && r->metric != M_RSS_ANON && r->metric != M_MEM)
			bad_at(x, "forecast", v[R_FORECAST],
			       "forecast needs a memory metric (rss, rss_anon or mem), not '%s'",
			       mi->name);
		else if (r->forecast_ms < 1000)
			bad_at(x, "forecast", v[R_FORECAST], "must be at least 1s");
	}
	if (mi && (r->has_below = metric_value(x, "below", v[R_BELOW], mi->unit, &r->below) > 0) &&
	    v[R_MIN])
		bad_at(x, "below", v[R_BELOW],
		       "below and min contradict: min keeps a rule from firing under it");
	if (cfg_duration(x, "stalled", v[R_STALLED], &r->stalled_ms) > 0) {
		r->has_stalled = true;
		if (r->stalled_ms < 1000)
			bad_at(x, "stalled", v[R_STALLED], "must be at least 1s");
	}
	if (!v[R_DIFF] && !v[R_ABS] && !v[R_TREND] && !v[R_FORECAST] && !v[R_BELOW] &&
	    !v[R_STALLED])
		cfg_error(x, n,
			  v[R_MIN] ? "min alone never fires: add diff, abs, below, stalled, trend "
				     "or forecast"
				   : "needs a condition: diff, abs, below, stalled, trend or forecast");
	if (!v[R_CAPTURE])
		cfg_missing(x, n, "capture");
	else
		cfg_capture_list(x, "capture", v[R_CAPTURE], t->go_url != NULL, &r->capture);
	for (size_t i = 0; t->jvm_off && i < r->capture.n; i++)
		if (capture_kind_jvm_only(r->capture.items[i].kind))
			bad_at(x, "capture", v[R_CAPTURE],
			       "'%s' needs a JVM target: this target has jvm: false",
			       capture_kind_name(r->capture.items[i].kind));
	free(metric);
}
