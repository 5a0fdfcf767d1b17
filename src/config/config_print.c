/* config_print: the effective configuration as YAML that loads back to the same config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "lib/units.h"

#define REDACTED "<redacted>"

/* Plain (unquoted) is fine for simple words, paths and, outside flow collections, URLs. */
static bool plain_ok(const char *s, bool flow)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "null", "~"};

	if (!*s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		     (*s >= '0' && *s <= '9') || *s == '/' || *s == '_'))
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i]) == 0)
			return false;
	if (!flow && s[strlen(s) - 1] != ':' && !strstr(s, ": "))
		return strspn(
			   s,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-:") ==
		       strlen(s);
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-") ==
	       strlen(s);
}

/* A double-quoted scalar; "${" is written "$${" so the loader does not expand it again. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (p[0] == '$' && p[1] == '{') {
			fputs("$${", f);
			p++;
		} else if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\x%02x", *p);
		} else {
			fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void put_str(FILE *f, const char *s, bool flow)
{
	if (plain_ok(s, flow))
		fputs(s, f);
	else
		put_quoted(f, s);
}

static void kv_str(FILE *f, int ind, const char *k, const char *v)
{
	fprintf(f, "%*s%s: ", ind, "", k);
	put_str(f, v, false);
	fputc('\n', f);
}

static void kv_dur(FILE *f, int ind, const char *k, int64_t ms)
{
	char b[UNITS_FMT_LEN];
	units_format_duration(ms, b, sizeof(b));
	fprintf(f, "%*s%s: %s\n", ind, "", k, b);
}

static void kv_size(FILE *f, int ind, const char *k, uint64_t v)
{
	char b[UNITS_FMT_LEN];
	units_format_size(v, b, sizeof(b));
	fprintf(f, "%*s%s: %s\n", ind, "", k, b);
}

static void kv_secret(FILE *f, int ind, const char *k, const char *v)
{
	fprintf(f, "%*s%s: %s\n", ind, "", k, v && *v ? "\"" REDACTED "\"" : "\"\"");
}

static void put_labels(FILE *f, const struct label *l, size_t n)
{
	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s%s: ", i ? ", " : "", l[i].key);
		put_str(f, l[i].value, true);
	}
	fputc('}', f);
}

static void put_captures(FILE *f, const struct capture_list *l)
{
	char b[UNITS_FMT_LEN];

	fputc('[', f);
	for (size_t i = 0; i < l->n; i++) {
		const struct capture_item *it = &l->items[i];
		const char *name = capture_kind_name(it->kind);

		if (i)
			fputs(", ", f);
		if (it->kind == K_COMMAND) {
			fputs("{command: [", f);
			for (char **a = it->argv; a && *a; a++) {
				if (a != it->argv)
					fputs(", ", f);
				/* Always quoted: "{pid}" must not read as a flow mapping. */
				put_quoted(f, *a);
			}
			units_format_duration(it->timeout_ms, b, sizeof(b));
			fprintf(f, "], timeout: %s}", b);
		} else if (capture_kind_has_duration(it->kind)) {
			units_format_duration(it->duration_ms, b, sizeof(b));
			fprintf(f, "{%s: %s}", name, b);
		} else {
			fputs(name, f);
		}
	}
	fputc(']', f);
}

static void metric_value(FILE *f, int ind, const char *k, enum metric_id m, double v)
{
	char b[UNITS_FMT_LEN];

	switch (metric_info(m)->unit) {
	case UNIT_BYTES:
		units_format_size((uint64_t)v, b, sizeof(b));
		break;
	case UNIT_PERCENT:
		units_format_percent(v, b, sizeof(b));
		break;
	default:
		units_format_number(v, b, sizeof(b));
		break;
	}
	fprintf(f, "%*s%s: %s\n", ind, "", k, b);
}

static void print_rule(FILE *f, const struct rule_conf *r)
{
	char b[UNITS_FMT_LEN], w[UNITS_FMT_LEN];
	enum metric_unit u = metric_info(r->metric)->unit;

	fprintf(f, "      - name: %s\n", r->name);
	if (r->own.query) {
		fprintf(f, "        metric: {%s: ", metric_info(r->metric)->name);
		put_str(f, r->own.query, true);
		if (r->own.url) {
			fputs(", url: ", f);
			put_str(f, r->own.url, true);
		}
		fputs("}\n", f);
	} else {
		fprintf(f, "        metric: %s\n", metric_info(r->metric)->name);
	}
	if (r->has_min)
		metric_value(f, 8, "min", r->metric, r->min);
	if (r->has_diff) {
		/* The loader divides by 100: print the text that divides back exactly. */
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(b, sizeof(b), "%.*g", prec, r->diff * 100.0);
			if (strtod(b, NULL) / 100.0 == r->diff)
				break;
		}
		fprintf(f, "        diff: %s%%\n", b);
	}
	if (r->has_abs)
		metric_value(f, 8, "abs", r->metric, r->abs);
	fprintf(f, "        for: %d\n", r->for_n);
	kv_dur(f, 8, "cooldown", r->cooldown_ms);
	if (r->has_trend) {
		units_format_duration(r->trend_window_ms, w, sizeof(w));
		units_format_slope(r->trend_slope,
				   u == UNIT_BYTES     ? SLOPE_SIZE
				   : u == UNIT_PERCENT ? SLOPE_PERCENT
						       : SLOPE_NUMBER,
				   b, sizeof(b));
		fprintf(f, "        trend: {window: %s, slope: %s}\n", w, b);
	}
	if (r->has_forecast)
		kv_dur(f, 8, "forecast", r->forecast_ms);
	if (r->has_below)
		metric_value(f, 8, "below", r->metric, r->below);
	if (r->has_stalled)
		kv_dur(f, 8, "stalled", r->stalled_ms);
	fputs("        capture: ", f);
	put_captures(f, &r->capture);
	fputc('\n', f);
}

static void print_target(FILE *f, const struct target_conf *t)
{
	const struct selector_conf *s = &t->match;
	char b[UNITS_FMT_LEN];

	fprintf(f, "  - name: %s\n    match:\n", t->name);
	if (s->has_pid)
		fprintf(f, "      pid: %d\n", (int)s->pid);
	if (s->pidfile)
		kv_str(f, 6, "pidfile", s->pidfile);
	if (s->comm)
		kv_str(f, 6, "comm", s->comm);
	if (s->cmdline)
		kv_str(f, 6, "cmdline", s->cmdline);
	if (s->exe)
		kv_str(f, 6, "exe", s->exe);
	if (s->cgroup)
		kv_str(f, 6, "cgroup", s->cgroup);
	if (s->user) {
		fprintf(f, "      user: ");
		put_str(f, s->user, false);
		fprintf(f, "  # uid %u\n", (unsigned)s->uid);
	}
	if (t->go_url) {
		fputs("    go:\n", f);
		kv_str(f, 6, "url", t->go_url);
		if (t->go_metrics)
			kv_str(f, 6, "metrics", t->go_metrics);
	}
	fprintf(f, "    limits:\n      max_captures: %d\n", t->max_captures);
	kv_dur(f, 6, "window", t->limit_window_ms);
	fprintf(f, "      max_cores: %d\n", t->max_cores);
	if (t->jvm_off || t->jvm_on)
		fprintf(f, "    jvm: %s\n", t->jvm_on ? "true" : "false");
	if (t->flight_recorder.enabled) {
		units_format_number(t->flight_recorder.rate_hz, b, sizeof(b));
		fprintf(f, "    flight_recorder:\n      rate: %sHz\n", b);
		kv_dur(f, 6, "keep", t->flight_recorder.keep_ms);
	}
	if (t->malloc.disabled || t->malloc.sample_bytes || t->malloc.budget > 0) {
		fprintf(f, "    malloc:\n      enabled: %s\n", t->malloc.disabled ? "false" : "true");
		if (t->malloc.sample_bytes)
			kv_size(f, 6, "sample", t->malloc.sample_bytes);
		if (t->malloc.budget > 0) {
			units_format_percent(t->malloc.budget * 100.0, b, sizeof(b));
			fprintf(f, "      budget: %s\n", b);
		}
	}
	fprintf(f, "    rules:%s\n", t->nrules ? "" : " []");
	for (size_t i = 0; i < t->nrules; i++)
		print_rule(f, &t->rules[i]);
}

void config_print(const struct hound_config *c, FILE *f)
{
	fprintf(f, "# effective configuration of ");
	put_str(f, c->path ? c->path : "-", false);
	fprintf(f, " (defaults filled in, secrets redacted)\n");
	kv_dur(f, 0, "interval", c->interval_ms);
	fprintf(f, "history: %d\n", c->history);
	kv_str(f, 0, "output", c->output);
	kv_size(f, 0, "max_disk", c->max_disk);
	if (c->run_as_user)
		kv_str(f, 0, "user", c->run_as_user);
	fputs("labels: ", f);
	put_labels(f, c->labels, c->nlabels);
	fputc('\n', f);
	if (c->api.enabled) {
		fputs("api:\n", f);
		kv_str(f, 2, "listen", c->api.listen);
		if (c->api.token_file)
			kv_str(f, 2, "token_file", c->api.token_file);
	}
	fprintf(f, "targets:%s\n", c->ntargets ? "" : " []");
	for (size_t i = 0; i < c->ntargets; i++)
		print_target(f, &c->targets[i]);
	if (c->upload.enabled) {
		const struct s3_conf *s = &c->upload.s3;
		fputs("upload:\n  s3:\n", f);
		kv_str(f, 4, "endpoint", s->endpoint);
		kv_str(f, 4, "bucket", s->bucket);
		kv_str(f, 4, "region", s->region);
		kv_str(f, 4, "prefix", s->prefix);
		fprintf(f, "    path_style: %s\n", s->path_style ? "true" : "false");
		kv_secret(f, 4, "access_key_id", s->access_key_id);
		kv_secret(f, 4, "secret_access_key", s->secret_access_key);
		kv_secret(f, 4, "session_token", s->session_token);
		if (s->ca_file)
			kv_str(f, 4, "ca_file", s->ca_file);
		kv_size(f, 4, "part_size", s->part_size);
		kv_size(f, 4, "multipart_threshold", s->multipart_threshold);
		kv_dur(f, 2, "keep_local", c->upload.keep_local_ms);
	}
	if (c->nalerts)
		fputs("alerts:\n", f);
	for (size_t i = 0; i < c->nalerts; i++) {
		const struct alert_route *a = &c->alerts[i];
		fputs("  - match: ", f);
		put_labels(f, a->match, a->nmatch);
		fputc('\n', f);
		if (a->target)
			kv_str(f, 4, "target", a->target);
		else
			kv_str(f, 4, "target_label", a->target_label);
		fputs("    capture: ", f);
		put_captures(f, &a->capture);
		fputc('\n', f);
	}
}
