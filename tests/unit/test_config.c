/* test_config: loading good configs, every default, ${VAR} expansion, errors, print round trip. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"
#include "tap.h"

#define MIB (1024.0 * 1024.0)

static struct hound_config *load(const char *text, struct config_errors *errs)
{
	struct hound_config *c = NULL;

	if (config_load_buffer("t.yaml", text, strlen(text), &c, errs) < 0)
		return NULL;
	return c;
}

/* Loads text that must fail; returns all messages joined by newlines (caller frees). */
static char *errors_of(const char *text)
{
	struct config_errors errs = {0};
	struct hound_config *c = load(text, &errs);
	size_t len = 1;
	char *out;

	config_free(c);
	for (size_t i = 0; i < errs.n; i++)
		len += strlen(errs.msgs[i]) + 1;
	out = calloc(1, len);
	for (size_t i = 0; i < errs.n; i++) {
		strcat(out, errs.msgs[i]);
		if (i + 1 < errs.n)
			strcat(out, "\n");
	}
	config_errors_fini(&errs);
	return out;
}

static void expect_error(const char *text, const char *want, const char *what)
{
	char *got = errors_of(text);
	is_str(got, want, "%s", what);
	free(got);
}

static char *print(const struct hound_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	config_print(c, f);
	fclose(f);
	return buf;
}

static void defaults(void)
{
	struct hound_config *c = load("", NULL);

	ok(c != NULL, "an empty file is a valid config");
	if (!c)
		return;
	is_int(c->interval_ms, 5000, "interval defaults to 5s");
	is_int(c->history, 10, "history defaults to 10");
	is_str(c->output, "/var/lib/hound", "output defaults to /var/lib/hound");
	ok(c->max_disk == 2ULL << 30, "max_disk defaults to 2GiB");
	ok(c->run_as_user == NULL, "no user switch by default");
	ok(!c->api.enabled && !c->upload.enabled, "api and upload are off by default");
	is_int(c->ntargets, 0, "no targets");
	is_int(c->nalerts, 0, "no alerts");
	config_free(c);

	/* heap: a duration for the native page-fault profile, 10s by default */
	c = load("targets:\n  - name: n\n    match: {comm: x}\n    rules:\n"
		 "      - {name: a, metric: rss, diff: 10%, capture: [heap]}\n"
		 "      - {name: b, metric: rss, abs: 1GiB, capture: [{heap: 30s}]}\n",
		 NULL);
	ok(c != NULL, "heap with and without a duration loads");
	if (c) {
		is_int(c->targets[0].rules[0].capture.items[0].duration_ms, 10000,
		       "heap duration defaults to 10s");
		is_int(c->targets[0].rules[1].capture.items[0].duration_ms, 30000, "{heap: 30s}");
		config_free(c);
	}

	c = load("targets:\n"
		 "  - name: t\n"
		 "    match: {comm: x}\n"
		 "    rules:\n"
		 "      - {name: r, metric: threads, diff: 10%, capture: [cpu, trace, "
		 "{command: [echo]}]}\n"
		 "    go: {url: 'http://127.0.0.1:1'}\n"
		 "upload:\n"
		 "  s3: {bucket: b, access_key_id: a, secret_access_key: s}\n"
		 "api: {}\n",
		 NULL);
	ok(c != NULL, "a small target loads");
	if (!c)
		return;
	const struct target_conf *t = &c->targets[0];
	const struct rule_conf *r = &t->rules[0];
	is_int(t->max_captures, 6, "limits.max_captures defaults to 6");
	is_int(t->limit_window_ms, 3600000, "limits.window defaults to 1h");
	ok(!t->flight_recorder.enabled, "flight recorder is off by default");
	is_int(r->for_n, 1, "for defaults to 1");
	is_int(r->cooldown_ms, 600000, "cooldown defaults to 10m");
	ok(r->has_diff && !r->has_min && !r->has_abs && !r->has_trend && !r->has_forecast,
	   "only the given conditions apply");
	is_double(r->diff, 0.10, 1e-15, "diff 10%% is 0.10");
	is_int(r->capture.n, 3, "three captures");
	is_int(r->capture.items[0].kind, K_CPU, "cpu");
	is_int(r->capture.items[0].duration_ms, 10000, "cpu duration defaults to 10s");
	is_int(r->capture.items[1].duration_ms, 5000, "trace duration defaults to 5s");
	is_int(r->capture.items[2].kind, K_COMMAND, "command");
	is_int(r->capture.items[2].timeout_ms, 30000, "command timeout defaults to 30s");
	is_str(r->capture.items[2].argv[0], "echo", "argv[0]");
	ok(r->capture.items[2].argv[1] == NULL, "argv is NULL-terminated");
	ok(t->metric_mask == METRIC_BIT(M_THREADS), "metric_mask has threads only");
	is_str(c->upload.s3.region, "us-east-1", "region defaults to us-east-1");
	is_str(c->upload.s3.endpoint, "https://s3.us-east-1.amazonaws.com",
	       "endpoint defaults from the region");
	is_str(c->upload.s3.prefix, "", "prefix defaults to empty");
	ok(c->upload.s3.part_size == 16ULL << 20, "part_size defaults to 16MiB");
	ok(c->upload.s3.multipart_threshold == 64ULL << 20,
	   "multipart_threshold defaults to 64MiB");
	is_int(c->upload.keep_local_ms, 86400000, "keep_local defaults to 24h");
	ok(c->api.enabled, "api: {} enables the API");
	is_str(c->api.listen, "127.0.0.1:9155", "api.listen defaults to 127.0.0.1:9155");
	ok(c->api.token == NULL, "no token without token_file");
	config_free(c);
}

static const char *spec_example =
    "interval: 5s\n"
    "history: 10\n"
    "output: /var/lib/hound\n"
    "max_disk: 2GiB\n"
    "user: root\n"
    "labels:\n"
    "  cluster: ${CLUSTER:-dev}\n"
    "  pod: ${POD_NAME:-}\n"
    "api:\n"
    "  listen: 127.0.0.1:9155\n"
    "targets:\n"
    "  - name: api\n"
    "    match:\n"
    "      comm: api\n"
    "      cmdline: '^/usr/bin/api( |$)'\n"
    "      user: root\n"
    "    go:\n"
    "      url: http://127.0.0.1:6060\n"
    "      metrics: http://127.0.0.1:6060/metrics\n"
    "    rules:\n"
    "      - name: rss-spike\n"
    "        metric: rss\n"
    "        min: 256MiB\n"
    "        diff: 25%\n"
    "        abs: 2GiB\n"
    "        for: 3\n"
    "        cooldown: 10m\n"
    "        capture: [heap, stacks]\n"
    "      - name: slow-leak\n"
    "        metric: rss\n"
    "        trend: {window: 6h, slope: 20MiB/h}\n"
    "        capture: [heap]\n"
    "      - name: pre-oom\n"
    "        metric: mem\n"
    "        forecast: 15m\n"
    "        capture: [heap, stacks]\n"
    "      - name: cpu-hot\n"
    "        metric: cpu\n"
    "        min: 50%\n"
    "        abs: 180%\n"
    "        capture: [{cpu: 30s}, {command: ['jcmd', '{pid}', 'Thread.print'], timeout: 1m}]\n"
    "      - name: go-heap\n"
    "        metric: heap_inuse\n"
    "        diff: 50%\n"
    "        capture: [heap, goroutines, {trace: 2s}]\n"
    "      - name: gc\n"
    "        metric: gc_pause\n"
    "        abs: 100ms\n"
    "        capture: [cpu]\n"
    "      - name: cardinality\n"
    "        metric: series\n"
    "        abs: 100000\n"
    "        trend: {window: 1h, slope: 1000/h}\n"
    "        capture: [heap]\n"
    "    limits:\n"
    "      max_captures: 4\n"
    "      window: 30m\n"
    "    flight_recorder: {rate: 19Hz, keep: 30s}\n"
    "  - name: worker\n"
    "    match: {pid: 1}\n"
    "upload:\n"
    "  s3:\n"
    "    endpoint: http://127.0.0.1:4568\n"
    "    bucket: diagnostics\n"
    "    region: eu-west-1\n"
    "    prefix: ${CLUSTER:-dev}/\n"
    "    path_style: true\n"
    "    part_size: 8MiB\n"
    "    access_key_id: ${AWS_ACCESS_KEY_ID}\n"
    "    secret_access_key: ${AWS_SECRET_ACCESS_KEY}\n"
    "    session_token: ${AWS_SESSION_TOKEN:-}\n"
    "  keep_local: 12h\n"
    "alerts:\n"
    "  - match: {alertname: KubePodHighMemory, severity: page}\n"
    "    target: api\n"
    "    capture: [heap, stacks]\n"
    "  - match: {alertname: Other}\n"
    "    target_label: hound_target\n"
    "    capture: [stacks]\n";

static void spec(void)
{
	struct config_errors errs = {0};
	struct hound_config *c;

	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("CLUSTER");
	setenv("POD_NAME", "api-7d9", 1);
	c = load(spec_example, &errs);
	ok(c != NULL, "the SPEC example loads");
	for (size_t i = 0; i < errs.n; i++)
		printf("# %s\n", errs.msgs[i]);
	config_errors_fini(&errs);
	if (!c)
		return;
	is_str(c->run_as_user, "root", "user: sets run_as_user");
	is_int(c->nlabels, 2, "two labels");
	is_str(c->labels[0].value, "dev", "${CLUSTER:-dev} takes the default");
	is_str(c->labels[1].value, "api-7d9", "${POD_NAME:-} takes the environment");
	is_int(c->ntargets, 2, "two targets");
	const struct target_conf *t = config_find_target(c, "api");
	ok(t == &c->targets[0], "config_find_target finds api");
	ok(config_find_target(c, "nope") == NULL, "config_find_target returns NULL when unknown");
	is_str(t->match.comm, "api", "comm");
	ok(regexec(&t->match.cmdline_re, "/usr/bin/api --port 1", 0, NULL, 0) == 0,
	   "cmdline regex compiled and matches");
	ok(regexec(&t->match.cmdline_re, "/usr/bin/apix", 0, NULL, 0) != 0,
	   "cmdline regex does not match a longer name");
	is_int(t->match.uid, 0, "user root resolves to uid 0");
	is_str(t->go_url, "http://127.0.0.1:6060", "go.url");
	is_str(t->go_metrics, "http://127.0.0.1:6060/metrics", "go.metrics");
	is_int(t->nrules, 7, "seven rules");
	is_int(t->max_captures, 4, "limits.max_captures");
	is_int(t->limit_window_ms, 1800000, "limits.window");
	ok(t->flight_recorder.enabled, "flight recorder enabled");
	is_double(t->flight_recorder.rate_hz, 19, 0, "flight recorder rate");
	is_int(t->flight_recorder.keep_ms, 30000, "flight recorder keep");
	ok(t->metric_mask ==
	       (METRIC_BIT(M_RSS) | METRIC_BIT(M_MEM) | METRIC_BIT(M_CPU) |
		METRIC_BIT(M_HEAP_INUSE) | METRIC_BIT(M_GC_PAUSE) | METRIC_BIT(M_SERIES)),
	   "metric_mask holds every metric the rules use");

	const struct rule_conf *r = &t->rules[0];
	is_str(r->name, "rss-spike", "rule name");
	is_int(r->metric, M_RSS, "rule metric");
	is_double(r->min, 256 * MIB, 0, "min 256MiB in bytes");
	is_double(r->abs, 2048 * MIB, 0, "abs 2GiB in bytes");
	is_double(r->diff, 0.25, 0, "diff 25%% is 0.25");
	is_int(r->for_n, 3, "for");
	is_int(r->capture.n, 2, "two captures");
	is_int(r->capture.items[1].kind, K_STACKS, "stacks");
	is_int(r->pos.line, 21, "rule position line");

	r = &t->rules[1];
	ok(r->has_trend, "trend");
	is_int(r->trend_window_ms, 6 * 3600000LL, "trend window 6h");
	is_double(r->trend_slope, 20 * MIB / 3600, 1e-9, "slope 20MiB/h in bytes per second");
	r = &t->rules[2];
	ok(r->has_forecast && r->forecast_ms == 900000, "forecast 15m");
	r = &t->rules[3];
	is_double(r->min, 50, 0, "cpu min 50%%");
	is_double(r->abs, 180, 0, "cpu abs 180%%");
	is_int(r->capture.items[0].duration_ms, 30000, "{cpu: 30s}");
	is_str(r->capture.items[1].argv[1], "{pid}", "command argv kept verbatim");
	is_int(r->capture.items[1].timeout_ms, 60000, "command timeout 1m");
	r = &t->rules[4];
	is_int(r->capture.items[1].kind, K_GOROUTINES, "goroutines on a Go target");
	is_int(r->capture.items[2].duration_ms, 2000, "{trace: 2s}");
	is_double(t->rules[5].abs, 0.1, 1e-12, "gc_pause abs 100ms is 0.1 seconds");
	is_double(t->rules[6].abs, 100000, 0, "series abs is a count");
	is_double(t->rules[6].trend_slope, 1000.0 / 3600, 1e-12, "count slope per second");

	t = &c->targets[1];
	ok(t->match.has_pid && t->match.pid == 1, "pid selector");
	is_int(t->nrules, 0, "a target without rules is fine");

	const struct s3_conf *s = &c->upload.s3;
	is_str(s->endpoint, "http://127.0.0.1:4568", "endpoint");
	is_str(s->region, "eu-west-1", "region");
	is_str(s->prefix, "dev/", "prefix expanded");
	ok(s->path_style, "path_style");
	ok(s->part_size == 8ULL << 20, "part_size 8MiB");
	is_str(s->access_key_id, "AKIDEXAMPLE", "access key from ${AWS_ACCESS_KEY_ID}");
	is_str(s->session_token, "", "session token defaults to empty");
	is_int(c->upload.keep_local_ms, 12 * 3600000LL, "keep_local 12h");

	is_int(c->nalerts, 2, "two alert routes");
	is_int(c->alerts[0].nmatch, 2, "two labels to match");
	is_str(c->alerts[0].match[1].key, "severity", "label key");
	is_str(c->alerts[0].match[1].value, "page", "label value");
	is_str(c->alerts[0].target, "api", "alert target");
	is_str(c->alerts[1].target_label, "hound_target", "alert target_label");

	/* Round trip: the printed config loads back to the same config. */
	char *p1 = print(c), *p2 = NULL;
	struct hound_config *c2 = NULL;
	ok(strstr(p1, "AKIDEXAMPLE") == NULL && strstr(p1, "wJalrXUtnFEMI") == NULL,
	   "secrets are not printed");
	ok(strstr(p1, "access_key_id: \"<redacted>\"") != NULL, "secrets show as <redacted>");
	config_load_buffer("t.yaml", p1, strlen(p1), &c2, &errs);
	ok(c2 != NULL, "the printed config loads");
	for (size_t i = 0; i < errs.n; i++)
		printf("# %s\n", errs.msgs[i]);
	config_errors_fini(&errs);
	if (c2) {
		p2 = print(c2);
		is_str(p2, p1, "printing the reloaded config gives the same text");
		is_double(c2->targets[0].rules[1].trend_slope, c->targets[0].rules[1].trend_slope,
			  0, "slope survives exactly");
		is_double(c2->targets[0].rules[0].diff, c->targets[0].rules[0].diff, 0,
			  "diff survives exactly");
		is_str(c2->upload.s3.access_key_id, "<redacted>",
		       "a reloaded secret is the placeholder");
		ok(c2->targets[0].metric_mask == c->targets[0].metric_mask, "metric_mask survives");
		ok(c2->targets[0].match.uid == 0, "match.user survives");
		is_str(c2->run_as_user, "root", "user survives");
	}
	free(p1);
	free(p2);
	config_free(c2);
	config_free(c);
}

/* Percentages are stored divided by 100: printing must still give back the exact value. */
static void diff_exact(void)
{
	static const char *const pcts[] = {"0.07%",  "33.3%", "1%", "12.5%",  "0.1%",
					   "99.99%", "1e-5%", "7%", "2.675%", "1000%"};
	char text[256];

	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		struct hound_config *c, *c2;
		char *p;

		snprintf(text, sizeof(text),
			 "targets: [{name: t, match: {comm: t}, rules: [{name: r, metric: cpu, "
			 "diff: '%s', capture: [stacks]}]}]\n",
			 pcts[i]);
		c = load(text, NULL);
		if (!c) {
			ok(0, "diff %s loads", pcts[i]);
			continue;
		}
		p = print(c);
		c2 = load(p, NULL);
		ok(c2 && c2->targets[0].rules[0].diff == c->targets[0].rules[0].diff,
		   "diff %s survives print and reload exactly", pcts[i]);
		config_free(c2);
		free(p);
		config_free(c);
	}
}

static void env(void)
{
	struct hound_config *c;
	char *p;

	setenv("HOUND_T_OUT", "/srv/spool", 1);
	setenv("HOUND_T_EMPTY", "", 1);
	unsetenv("HOUND_T_UNSET");
	c = load("output: ${HOUND_T_OUT}/x\n"
		 "labels: {a: '${HOUND_T_UNSET:-d1}', b: '${HOUND_T_EMPTY:-d2}', "
		 "c: 'x$${HOUND_T_OUT}y', d: '$5 and $ {x}', e: '${HOUND_T_EMPTY}'}\n",
		 NULL);
	ok(c != NULL, "expansion config loads");
	if (!c)
		return;
	is_str(c->output, "/srv/spool/x", "${VAR} expands inside a string");
	is_str(c->labels[0].value, "d1", "${VAR:-d} uses the default when unset");
	is_str(c->labels[1].value, "d2", "${VAR:-d} uses the default when empty");
	is_str(c->labels[2].value, "x${HOUND_T_OUT}y", "$${ is a literal ${");
	is_str(c->labels[3].value, "$5 and $ {x}", "a lone $ stays");
	is_str(c->labels[4].value, "", "${VAR} set but empty expands to empty");
	p = print(c);
	ok(strstr(p, "$${HOUND_T_OUT}") != NULL, "a literal ${ prints as $${");
	struct hound_config *c2 = load(p, NULL);
	ok(c2 && !strcmp(c2->labels[2].value, "x${HOUND_T_OUT}y"), "and reloads as the literal");
	config_free(c2);
	free(p);
	config_free(c);

	expect_error("output: ${HOUND_T_UNSET}\n",
		     "t.yaml:1:9: output: environment variable HOUND_T_UNSET is not set "
		     "(write ${HOUND_T_UNSET:-default} for a default)",
		     "an unset variable without default names the variable");
	expect_error("output: ${HOUND_T_OUT\n",
		     "t.yaml:1:9: output: unterminated '${' (write $${ for a literal ${)",
		     "an unterminated ${ is an error");
	expect_error("output: ${1X}\n", "t.yaml:1:9: output: bad variable reference '${1X}'",
		     "a bad variable name is an error");
	setenv("HOUND_T_IVL", "50ms", 1);
	expect_error("interval: ${HOUND_T_IVL}\n",
		     "t.yaml:1:11: interval: must be between 100ms and 1h",
		     "expanded values are validated");
}

static void errors(void)
{
	char *got;

	expect_error(
	    "interval: 5s\nhistroy: 3\ntargets:\n  - name: a\n    match: {comm: a}\n"
	    "    rules:\n      - {name: r, metric: rss, diff: 25, capture: [heap]}\n",
	    "t.yaml:2:1: histroy: unknown key, did you mean 'history'?\n"
	    "t.yaml:7:38: targets[0].rules[0].diff: expected a percentage like 25%, got '25'",
	    "every error is reported, in file order, with line, column and key path");
	expect_error("a: [\n",
		     "t.yaml:2:1: yaml: did not find expected node content "
		     "(while parsing a flow node at line 2)",
		     "a YAML syntax error has a position");
	expect_error("x: 1\n---\ny: 2\n",
		     "t.yaml:1:1: x: unknown key (valid keys: interval, history, "
		     "output, max_disk, labels, api, targets, upload, alerts, user)\n"
		     "t.yaml:3:1: only one YAML document is allowed",
		     "a second document is an error");

	/* A billion laughs must end quickly with an error, not expand. */
	char *bomb = calloc(1, 65536);
	strcat(bomb, "targets:\n  - &t\n    name: t\n    match: {comm: t}\n    rules:\n"
		     "      - &r {name: r, metric: rss, diff: 1%, capture: [heap");
	for (int i = 0; i < 31; i++)
		strcat(bomb, ", heap");
	strcat(bomb, "]}\n");
	for (int i = 0; i < 99; i++)
		strcat(bomb, "      - *r\n");
	for (int i = 0; i < 999; i++)
		strcat(bomb, "  - *t\n");
	got = errors_of(bomb);
	ok(strstr(got, "t.yaml: the document is too complex (aliases expand to over 200000 nodes)"),
	   "an alias bomb is refused");
	if (!strstr(got, "too complex"))
		printf("# %s\n", got);
	ok(strstr(got, "too many errors, stopping after 99"), "errors stop at 100");
	free(got);
	free(bomb);

	struct config_errors errs = {0};
	struct hound_config *c = (void *)1;
	is_int(config_load("/nonexistent/hound.yaml", &c, &errs), -ENOENT,
	       "a missing file returns -ENOENT");
	ok(c == NULL, "and no config");
	ok(errs.n == 1 &&
	       !strcmp(errs.msgs[0],
		       "/nonexistent/hound.yaml: cannot read: No such file or directory"),
	   "and says which file");
	config_errors_fini(&errs);
}

/* below, stalled, and rules on the target's own series. */
static void own_metrics(void)
{
	const char *text =
	    "targets:\n"
	    "  - name: web\n"
	    "    match: {comm: web}\n"
	    "    go: {url: 'http://127.0.0.1:6060', metrics: 'http://127.0.0.1:6060/metrics'}\n"
	    "    rules:\n"
	    "      - name: requests-stopped\n"
	    "        metric: {prometheus: 'http_requests_total{code=\"200\"}'}\n"
	    "        stalled: 2m\n"
	    "        capture: [stacks]\n"
	    "      - name: few-objects\n"
	    "        metric: {expvar: memstats.HeapObjects}\n"
	    "        below: 1000\n"
	    "        capture: [heap]\n"
	    "      - name: elsewhere\n"
	    "        metric: {prometheus: jobs_done_total, url: 'http://127.0.0.1:9100/metrics'}\n"
	    "        below: 0.5\n"
	    "        capture: [locks, fds]\n"
	    "      - name: hung\n"
	    "        metric: deadlocked\n"
	    "        abs: 0\n"
	    "        capture: [locks]\n"
	    "      - name: waits\n"
	    "        metric: lock_wait\n"
	    "        abs: 1500ms\n"
	    "        capture: [locks]\n";
	struct config_errors errs = {0};
	struct hound_config *c = load(text, &errs);
	ok(c != NULL, "own metrics, below, stalled, deadlocked, lock_wait load");
	for (size_t i = 0; i < errs.n; i++)
		printf("# %s\n", errs.msgs[i]);
	config_errors_fini(&errs);
	if (!c)
		return;
	const struct rule_conf *r = c->targets[0].rules;
	is_int(r[0].metric, M_PROMETHEUS, "prometheus: the metric kind");
	is_str(r[0].own.query, "http_requests_total{code=\"200\"}", "prometheus: the selector");
	ok(r[0].has_stalled && r[0].stalled_ms == 120000, "stalled: 2m");
	is_int(r[1].metric, M_EXPVAR, "expvar: the metric kind");
	ok(r[1].has_below && r[1].below == 1000, "below: 1000");
	is_str(r[2].own.url, "http://127.0.0.1:9100/metrics", "url: its own endpoint");
	ok(r[2].has_below && r[2].below == 0.5, "below keeps fractions");
	is_int(r[3].metric, M_DEADLOCKED, "deadlocked");
	ok(r[4].metric == M_LOCK_WAIT && r[4].abs == 1.5, "lock_wait abs 1500ms is 1.5 s");
	ok(!(c->targets[0].metric_mask & (METRIC_BIT(M_PROMETHEUS) | METRIC_BIT(M_EXPVAR))),
	   "own series take no per-process metric slot");
	char *printed = print(c);
	ok(strstr(printed, "metric: {prometheus: \"http_requests_total{code=\\\"200\\\"}\"}") &&
	       strstr(printed, "stalled: 2m") && strstr(printed, "below: 1000"),
	   "printed back as written");
	struct hound_config *c2 = load(printed, &errs);
	ok(c2 != NULL, "the printed config loads again");
	config_errors_fini(&errs);
	config_free(c2);
	free(printed);
	config_free(c);

#define RULE_HEAD                                                                                  \
	"targets:\n  - name: t\n    match: {comm: t}\n    rules:\n      - name: r\n"
	expect_error(RULE_HEAD "        metric: {prometheus: 'x{a=b}'}\n        below: 1\n"
			       "        capture: [stacks]\n",
		     "t.yaml:6:30: targets[0].rules[0].metric.prometheus: 'x{a=b}': a label value "
		     "must be in double quotes",
		     "a bad selector names the file, line and column");
	expect_error(RULE_HEAD "        metric: {prometheus: x_total}\n        below: 1\n"
			       "        capture: [stacks]\n",
		     "t.yaml:6:17: targets[0].rules[0].metric: no endpoint to read it from: add url: "
		     "or set go.metrics",
		     "prometheus without an endpoint");
	expect_error(RULE_HEAD "        metric: {expvar: a..b, url: 'http://h/debug/vars'}\n"
			       "        below: 1\n        capture: [stacks]\n",
		     "t.yaml:6:26: targets[0].rules[0].metric.expvar: 'a..b': expected a dotted "
		     "path like memstats.HeapObjects",
		     "a bad expvar path");
	expect_error(RULE_HEAD "        metric: prometheus\n        below: 1\n"
			       "        capture: [stacks]\n",
		     "t.yaml:6:17: targets[0].rules[0].metric: name the series: {prometheus: "
		     "'NAME{label=\"v\"}'} or {expvar: a.b.c}",
		     "prometheus needs its series");
	expect_error(RULE_HEAD "        metric: threads\n        min: 3\n        below: 1\n"
			       "        capture: [stacks]\n",
		     "t.yaml:8:16: targets[0].rules[0].below: below and min contradict: min keeps "
		     "a rule from firing under it",
		     "below with min");
	expect_error(RULE_HEAD "        metric: threads\n        stalled: 500ms\n"
			       "        capture: [stacks]\n",
		     "t.yaml:7:18: targets[0].rules[0].stalled: must be at least 1s",
		     "stalled under 1s");
	expect_error(RULE_HEAD "        metric: threads\n        capture: [stacks]\n",
		     "t.yaml:5:9: targets[0].rules[0]: needs a condition: diff, abs, below, "
		     "stalled, trend or forecast",
		     "no condition lists the new ones");
#undef RULE_HEAD
}

static void token(void)
{
	char path[] = "/tmp/hound-token-XXXXXX", *text, *p;
	int fd = mkstemp(path);
	struct hound_config *c;

	ok(fd >= 0, "temp token file");
	if (fd < 0)
		return;
	ok(write(fd, "  s3cr3t-t0ken\n\n", 16) == 16, "token written");
	close(fd);
	text = NULL;
	if (asprintf(&text, "api: {listen: '0.0.0.0:9155', token_file: '%s'}\n", path) < 0)
		return;
	c = load(text, NULL);
	ok(c != NULL, "a non-loopback listen with a token file loads");
	if (c) {
		is_str(c->api.token, "s3cr3t-t0ken", "the token is read and trimmed");
		p = print(c);
		ok(strstr(p, "s3cr3t") == NULL, "the token is never printed");
		ok(strstr(p, path) != NULL, "the token file is printed");
		free(p);
	}
	config_free(c);
	free(text);
	unlink(path);
}

/* Deep nesting is refused early, naming where: libyaml's loader is quadratic in depth. */
static void deep(void)
{
	size_t n = 100000;
	char *flow = malloc(2 * n + 32), *block = malloc(1 << 16);
	size_t len = (size_t)sprintf(flow, "interval: 5s\nlabels: ");
	for (size_t i = 0; i < n; i++)
		flow[len++] = '[';
	for (size_t i = 0; i < n; i++)
		flow[len++] = ']';
	flow[len++] = '\n';
	flow[len] = '\0';
	char *e = errors_of(flow);
	ok(e && strstr(e, "t.yaml:2:") && strstr(e, "nesting deeper than 64 levels"),
	   "100000 nested flow sequences: refused with file:line:col");
	if (e && !strstr(e, "t.yaml:2:72: "))
		printf("# %s\n", e);
	is_int(e && strstr(e, "t.yaml:2:72: ") != NULL, 1, "the column is the 65th level (the top mapping is the first)");
	free(e);

	/* block style, one level per line: 200 levels */
	len = (size_t)sprintf(block, "labels:\n");
	for (int i = 0; i < 200; i++)
		len += (size_t)sprintf(block + len, "%*sk%d:\n", i + 1, "", i);
	e = errors_of(block);
	ok(e && strstr(e, "t.yaml:65:") && strstr(e, "nesting deeper than 64 levels"),
	   "200 nested block mappings: refused at the line of the 65th");
	if (e && !strstr(e, "t.yaml:65:"))
		printf("# %s\n", e);
	free(e);

	/* 64 levels are not refused for their depth */
	len = (size_t)sprintf(flow, "labels: {a: ");
	for (int i = 0; i < 62; i++)
		flow[len++] = '[';
	for (int i = 0; i < 62; i++)
		flow[len++] = ']';
	len += (size_t)sprintf(flow + len, "}\n");
	e = errors_of(flow);
	ok(e && !strstr(e, "nesting deeper"), "64 levels: no depth error (got: %s)", e ? e : "none");
	free(e);
	free(flow);
	free(block);
}

static void default_path(void)
{
	setenv("HOUND_CONFIG", "/x/y.yaml", 1);
	is_str(config_default_path(), "/x/y.yaml", "HOUND_CONFIG overrides the default path");
	unsetenv("HOUND_CONFIG");
	ok(strstr(config_default_path(), "/hound/hound.yaml") != NULL,
	   "the default path ends in hound/hound.yaml");
}

int main(void)
{
	own_metrics();
	defaults();
	spec();
	diff_exact();
	env();
	errors();
	token();
	default_path();
	deep();
	return done_testing();
}
