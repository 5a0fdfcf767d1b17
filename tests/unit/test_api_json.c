/* Unit tests for api_json: capture requests, Alertmanager webhooks, routing, status rendering. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_gate.h"
#include "api/api_json.h"
#include "config/config.h"
#include "tap.h"

static int parse_cap(const char *s, struct api_capture_body *b, bool *bad_kind, char *err)
{
	return api_parse_capture(s, strlen(s), b, bad_kind, err, API_ERR_LEN);
}

static void test_capture_ok(void)
{
	struct api_capture_body b;
	char err[API_ERR_LEN] = "";
	bool bk = true;
	const char *s =
	    "{\"target\":\"api\",\"pid\":123,\"capture\":[\"heap\",{\"cpu\":\"30s\"},{\"trace\":"
	    "\"2s\"},"
	    "\"stacks\"],"
	    "\"reason\":\"on call\"}";
	is_int(parse_cap(s, &b, &bk, err), 0, "full capture request parses (%s)", err);
	is_str(b.target, "api", "target");
	is_int(b.pid, 123, "pid");
	ok(b.has_capture, "has capture list");
	is_int(b.capture.n, 4, "four items");
	is_int(b.capture.items[0].kind, K_HEAP, "heap");
	is_int(b.capture.items[1].kind, K_CPU, "cpu");
	is_int(b.capture.items[1].duration_ms, 30000, "cpu 30s");
	is_int(b.capture.items[2].duration_ms, 2000, "trace 2s");
	is_int(b.capture.items[3].kind, K_STACKS, "stacks");
	is_str(b.reason, "on call", "reason");
	ok(!bk, "not a bad kind");
	api_capture_body_fini(&b);

	is_int(parse_cap("{\"target\":\"api\"}", &b, NULL, err), 0, "target alone");
	ok(!b.has_capture && b.pid == 0 && !b.reason, "defaults: no list, every pid, no reason");
	api_capture_body_fini(&b);

	is_int(parse_cap("{\"target\":\"api\",\"capture\":[\"cpu\"]}", &b, NULL, err), 0,
	       "cpu plain");
	is_int(b.capture.items[0].duration_ms, 10000, "cpu default 10s");
	api_capture_body_fini(&b);

	is_int(parse_cap("{\"target\":\"api\",\"capture\":[\"heap\",{\"cpu\":\"2s\"}]}", &b, NULL,
			 err),
	       0, "heap plain");
	is_int(b.capture.items[0].duration_ms, 10000, "heap default 10s (the native fault profile)");
	api_capture_body_fini(&b);
	is_int(parse_cap("{\"target\":\"api\",\"capture\":[{\"heap\":\"3s\"}]}", &b, NULL, err), 0,
	       "heap with a duration");
	is_int(b.capture.items[0].duration_ms, 3000, "heap 3s");
	api_capture_body_fini(&b);
}

static void test_capture_bad(void)
{
	static const struct {
		const char *body, *msg;
		bool bad_kind;
	} cases[] = {
	    {"", "bad JSON", false},
	    {"{", "bad JSON", false},
	    {"[1]", "must be a JSON object", false},
	    {"{\"pid\":1}", "target: missing", false},
	    {"{\"target\":\"\"}", "target: expected", false},
	    {"{\"target\":7}", "target: expected", false},
	    {"{\"target\":\"a\",\"pid\":-1}", "pid: expected", false},
	    {"{\"target\":\"a\",\"pid\":1.5}", "pid: expected", false},
	    {"{\"target\":\"a\",\"pid\":99999999999}", "pid: expected", false},
	    {"{\"target\":\"a\",\"capture\":[]}", "non-empty list", false},
	    {"{\"target\":\"a\",\"capture\":\"heap\"}", "non-empty list", false},
	    {"{\"target\":\"a\",\"capture\":[\"bogus\"]}", "unknown capture kind 'bogus'", true},
	    {"{\"target\":\"a\",\"capture\":[{\"bogus\":\"1s\"}]}", "unknown capture kind", true},
	    {"{\"target\":\"a\",\"capture\":[\"heap\",\"heap\"]}", "listed twice", false},
	    {"{\"target\":\"a\",\"capture\":[{\"stacks\":\"1s\"}]}", "takes no duration", false},
	    {"{\"target\":\"a\",\"capture\":[{\"cpu\":\"1h\"}]}", "between 1s and 600s", false},
	    {"{\"target\":\"a\",\"capture\":[{\"cpu\":\"fast\"}]}", "bad duration", false},
	    {"{\"target\":\"a\",\"capture\":[{\"cpu\":10}]}", "duration string", false},
	    {"{\"target\":\"a\",\"capture\":[\"command\"]}", "not requested over the API", false},
	    {"{\"target\":\"a\",\"capture\":[{\"command\":[\"id\"]}]}", "not requested over the API",
	     false},
	    {"{\"target\":\"a\",\"capture\":[{\"cpu\":\"1s\",\"heap\":null}]}", "each item", false},
	    {"{\"target\":\"a\",\"capture\":[null]}", "each item", false},
	    {"{\"target\":\"a\",\"reason\":5}", "reason:", false},
	    {"{\"target\":\"a\",\"pids\":[1]}", "unknown field 'pids'", false},
	    {"{\"target\":\"a\",\"target\":\"b\"}", "bad JSON", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_capture_body b;
		char err[API_ERR_LEN] = "";
		bool bk = false;
		int rc = parse_cap(cases[i].body, &b, &bk, err);
		ok(rc == -EINVAL && strstr(err, cases[i].msg) && bk == cases[i].bad_kind,
		   "rejects %s -> %s", cases[i].body, cases[i].msg);
		if (rc != -EINVAL || !strstr(err, cases[i].msg))
			printf("#   rc %d err '%s'\n", rc, err);
		api_capture_body_fini(&b);
	}
	/* 40 items: over the list limit */
	char big[2048] = "{\"target\":\"a\",\"capture\":[";
	for (int i = 0; i < 40; i++)
		strcat(big, i ? ",\"heap\"" : "\"heap\"");
	strcat(big, "]}");
	struct api_capture_body b;
	char err[API_ERR_LEN];
	ok(parse_cap(big, &b, NULL, err) == -EINVAL && strstr(err, "at most"), "list limit");
	api_capture_body_fini(&b);
	/* a name with control bytes is not echoed raw */
	ok(parse_cap("{\"target\":\"a\",\"capture\":[\"x\\n\\u0007y\"]}", &b, NULL, err) ==
		   -EINVAL &&
	       !strchr(err, '\n') && !strchr(err, 7),
	   "error text is printable");
	api_capture_body_fini(&b);
}

static const char *webhook =
    "{\"receiver\":\"hound\",\"status\":\"firing\",\"version\":\"4\",\"groupKey\":\"{}:{}\","
    "\"truncatedAlerts\":0,\"groupLabels\":{},\"commonLabels\":{},\"externalURL\":\"http://am\","
    "\"alerts\":["
    "{\"status\":\"firing\",\"labels\":{\"severity\":\"page\",\"alertname\":\"KubePodHighMemory\","
    "\"pod\":\"api-1\"},"
    "\"annotations\":{\"summary\":\"rss high\"},\"startsAt\":\"2024-01-01T00:00:00Z\","
    "\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":\"x\",\"fingerprint\":\"c0ffee\"},"
    "{\"status\":\"resolved\",\"labels\":{\"alertname\":\"KubePodHighMemory\"},\"annotations\":{}},"
    "{\"status\":\"firing\",\"labels\":{\"alertname\":\"Other\",\"hound_target\":\"db\"}},"
    "{\"status\":\"firing\",\"labels\":{\"alertname\":\"Nothing\"},\"future\":{\"x\":[1,2]}}"
    "]}";

static void test_webhook(void)
{
	struct api_webhook w;
	char err[API_ERR_LEN] = "";

	is_int(api_parse_webhook(webhook, strlen(webhook), &w, err, sizeof(err)), 0,
	       "webhook parses (%s)", err);
	is_int(w.nalerts, 4, "four alerts");
	is_str(w.receiver, "hound", "receiver");
	ok(w.alerts[0].firing && !w.alerts[1].firing, "firing / resolved");
	is_int(w.alerts[0].nlabels, 3, "labels");
	is_str(w.alerts[0].labels[0].key, "alertname", "labels sorted by key");
	is_str(api_label_get(w.alerts[0].labels, w.alerts[0].nlabels, "pod"), "api-1",
	       "label lookup");
	ok(api_label_get(w.alerts[0].labels, w.alerts[0].nlabels, "nope") == NULL, "missing label");
	is_str(api_label_get(w.alerts[0].annotations, w.alerts[0].nannotations, "summary"),
	       "rss high", "annotation");
	is_str(w.alerts[0].fingerprint, "c0ffee", "fingerprint");
	ok(w.alerts[2].fingerprint == NULL, "no fingerprint");

	/* routing against a real config */
	static const char *yaml =
	    "output: /tmp\n"
	    "api: {listen: 127.0.0.1:9155}\n"
	    "targets:\n"
	    "  - name: api\n    match: {comm: api}\n"
	    "    rules: [{name: r, metric: rss, abs: 1GiB, cooldown: 3m, capture: [heap]}]\n"
	    "  - name: db\n    match: {comm: db}\n"
	    "alerts:\n"
	    "  - match: {alertname: KubePodHighMemory, severity: page}\n    target: api\n    "
	    "capture: [heap]\n"
	    "  - match: {alertname: Other}\n    target_label: hound_target\n    capture: "
	    "[stacks]\n";
	struct hound_config *c = NULL;
	struct config_errors errs = {0};
	int rc = config_load_buffer("test.yaml", yaml, strlen(yaml), &c, &errs);
	is_int(rc, 0, "routing config loads");
	for (size_t i = 0; i < errs.n; i++)
		printf("#   %s\n", errs.msgs[i]);
	config_errors_fini(&errs);
	if (c) {
		const char *t = NULL;
		const struct alert_route *r = api_route_alert(c, &w.alerts[0], &t);
		ok(r == &c->alerts[0] && t && !strcmp(t, "api"), "label equality routes to api");
		r = api_route_alert(c, &w.alerts[2], &t);
		ok(r == &c->alerts[1] && t && !strcmp(t, "db"), "target_label routes to db");
		r = api_route_alert(c, &w.alerts[3], &t);
		ok(r == NULL && t == NULL, "no route");
		config_free(c);
	}

	char k1[256], k2[256], k3[256];
	api_alert_dedup_key(&w.alerts[0], "api", k1, sizeof(k1));
	is_str(k1, "alert/api/c0ffee", "dedup key from fingerprint");
	api_alert_dedup_key(&w.alerts[2], "db", k2, sizeof(k2));
	api_alert_dedup_key(&w.alerts[3], "db", k3, sizeof(k3));
	ok(strncmp(k2, "alert/db/", 9) == 0 && strlen(k2) == 9 + 64,
	   "dedup key from labels is a hash");
	ok(strcmp(k2, k3) != 0, "different labels, different keys");
	api_webhook_fini(&w);

	/* the same labels in another order give the same key */
	const char *a1 =
	    "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"1\",\"b\":\"2\"}}]}";
	const char *a2 =
	    "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"b\":\"2\",\"a\":\"1\"}}]}";
	struct api_webhook w1, w2;
	ok(api_parse_webhook(a1, strlen(a1), &w1, err, sizeof(err)) == 0 &&
	       api_parse_webhook(a2, strlen(a2), &w2, err, sizeof(err)) == 0,
	   "minimal webhooks parse (no version)");
	api_alert_dedup_key(&w1.alerts[0], "t", k1, sizeof(k1));
	api_alert_dedup_key(&w2.alerts[0], "t", k2, sizeof(k2));
	is_str(k1, k2, "label order does not change the key");
	api_webhook_fini(&w1);
	api_webhook_fini(&w2);
}

static void test_webhook_bad(void)
{
	static const struct {
		const char *body, *msg;
	} cases[] = {
	    {"nope", "bad JSON"},
	    {"{}", "alerts: expected a list"},
	    {"{\"version\":\"3\",\"alerts\":[]}", "unsupported webhook version"},
	    {"{\"version\":4,\"alerts\":[]}", "unsupported webhook version"},
	    {"{\"alerts\":[1]}", "must be an object"},
	    {"{\"alerts\":[{\"labels\":{}}]}", "alert status"},
	    {"{\"alerts\":[{\"status\":\"pending\"}]}", "alert status"},
	    {"{\"alerts\":[{\"status\":\"firing\",\"labels\":[]}]}", "alert labels"},
	    {"{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":1}}]}",
	     "every value must be a string"},
	    {"{\"alerts\":[{\"status\":\"firing\",\"annotations\":{\"a\":null}}]}",
	     "alert annotations"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct api_webhook w;
		char err[API_ERR_LEN] = "";
		int rc =
		    api_parse_webhook(cases[i].body, strlen(cases[i].body), &w, err, sizeof(err));
		ok(rc == -EINVAL && strstr(err, cases[i].msg), "webhook %s -> %s", cases[i].body,
		   cases[i].msg);
		if (rc != -EINVAL || !strstr(err, cases[i].msg))
			printf("#   rc %d err '%s'\n", rc, err);
		api_webhook_fini(&w);
	}
}

static void test_status_render(void)
{
	const char *health = "{\"status\":\"ok\",\"last_tick_age_ms\":250}";
	const char *targets =
	    "{\"interval_ms\":1000,\"targets\":[{\"name\":\"api\",\"limits\":{\"max_captures\":6,"
	    "\"window_ms\":3600000,\"used\":1},\"captures\":{\"ok\":1,\"failed\":0},"
	    "\"rules\":[{\"name\":\"rss-spike\",\"metric\":\"rss\",\"min\":268435456,\"diff\":0.25,"
	    "\"abs\":2147483648,\"for\":2,\"cooldown_ms\":600000}],"
	    "\"processes\":[{\"pid\":42,\"comm\":\"api\",\"started_at\":\"2024-01-01T00:00:00."
	    "000Z\","
	    "\"samples\":10,\"warm\":true,\"capturing\":false,\"metrics\":{\"rss\":104857600},"
	    "\"rules\":[{\"rule\":\"rss-spike\",\"streak\":1,\"cooling\":true,\"cooldown_left_ms\":"
	    "252000}]}]}]}";
	const char *caps =
	    "{\"captures\":[{\"id\":\"20240101T000000Z-42-api\",\"target\":\"api\",\"pid\":42,"
	    "\"trigger\":\"api\",\"ok\":true,\"errors\":0,\"upload\":\"uploaded\"}]}";
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	is_int(api_status_render(f, "127.0.0.1:9155", 200, health, targets, caps), 0,
	       "status renders");
	fclose(f);
	printf("%s", text);
	ok(strstr(text, "healthy, last tick 0.2s ago, interval 1s, 1 target") != NULL,
	   "header line");
	ok(strstr(text, "limit 1/6 per 1h") != NULL, "limit line");
	ok(strstr(text, "100.0MiB") && strstr(text, "min 256.0MiB, diff 25%, abs 2.0GiB"),
	   "metric value against thresholds");
	ok(strstr(text, "streak 1/2; cooling, 4m12s left") != NULL, "streak and cooldown");
	ok(strstr(text, "20240101T000000Z-42-api") && strstr(text, "upload uploaded"),
	   "bundle line");
	free(text);

	f = open_memstream(&text, &len);
	is_int(api_status_render(f, "x", 200, "not json", NULL, NULL), -EINVAL,
	       "garbage is refused");
	fclose(f);
	free(text);
}

/* The gate's pure parts: when is a request head complete, is it a probe. */
static void test_gate(void)
{
	static char big[API_GATE_HEAD_MAX + 10];
	const char *h = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	is_int(api_gate_head_complete(h, strlen(h)), 1, "a whole head is complete");
	is_int(api_gate_head_complete(h, strlen(h) - 2), 0, "a head without its blank line is not");
	is_int(api_gate_head_complete("GET / HTTP/1.0\n\n", 16), 1, "bare LF line ends count");
	is_int(api_gate_head_complete("", 0), 0, "nothing yet");
	memset(big, 'a', sizeof(big));
	is_int(api_gate_head_complete(big, sizeof(big)), -1, "a head over the limit is refused");
	is_int(api_gate_is_healthz(h, strlen(h)), 1, "GET /healthz");
	is_int(api_gate_is_healthz("HEAD /healthz HTTP/1.1\r\n\r\n", 27), 2, "HEAD /healthz");
	is_int(api_gate_is_healthz("GET /healthzz HTTP/1.1\r\n\r\n", 27), 0, "not /healthzz");
	is_int(api_gate_is_healthz("POST /healthz HTTP/1.1\r\n\r\n", 27), 0, "not POST");
	is_int(api_gate_is_healthz("GET /healthz?x=1 HTTP/1.1\r\n\r\n", 31), 0,
	       "a query goes to the server (which answers it the same)");
}

int main(void)
{
	test_gate();
	test_capture_ok();
	test_capture_bad();
	test_webhook();
	test_webhook_bad();
	test_status_render();
	return done_testing();
}
