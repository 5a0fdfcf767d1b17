/* api_routes: the API's request handlers; each turns a request into agent_* calls and a reply. */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_json.h"
#include "lib/log.h"
#include "lib/util.h"

#define MAX_IDS			  64
#define DEFAULT_ALERT_COOLDOWN_MS (10 * 60 * 1000)

void api_get_healthz(struct api_server *s, struct api_reply *r)
{
	int64_t age = 0;
	bool ok = agent_healthy(s->a, &age);
	struct json_writer w;

	json_init(&w, false);
	json_obj_begin(&w);
	json_kv_str(&w, "status", ok ? "ok" : "unhealthy");
	if (!ok)
		json_kv_str(&w, "error",
			    age < 0 ? "the sampling loop has not run yet"
				    : "the sampling loop has not run within 3 intervals");
	json_kv_int(&w, "last_tick_age_ms", age);
	json_obj_end(&w);
	api_reply_json(r, ok ? 200 : 503, &w);
}

void api_get_metrics(struct api_server *s, struct api_reply *r)
{
	char *buf = NULL;
	size_t len = 0;
	agent_write_metrics(s->a, &buf, &len);

	/* The API's own counters, appended with one bounded snprintf per line. */
	uint64_t req[H_COUNT][API_CODES], limited;
	pthread_mutex_lock(&s->lock);
	memcpy(req, s->requests, sizeof(req));
	limited = s->rate_limited;
	pthread_mutex_unlock(&s->lock);
	size_t room = 512 + (size_t)H_COUNT * API_CODES * 96;
	buf = xrealloc(buf, len + room);
	char *p = buf + len, *end = buf + len + room;
	p += snprintf(
	    p, (size_t)(end - p),
	    "# HELP hound_api_requests_total API requests answered, by endpoint and status.\n"
	    "# TYPE hound_api_requests_total counter\n");
	for (int h = 0; h < H_COUNT; h++)
		for (int c = 0; c < API_CODES; c++)
			if (req[h][c] || (c == 0 && h != H_OTHER && h != H_ALERTS))
				p += snprintf(
				    p, (size_t)(end - p),
				    "hound_api_requests_total{path=\"%s\",code=\"%d\"} %llu\n",
				    api_handler_path((enum api_handler)h), api_code_at(c),
				    (unsigned long long)req[h][c]);
	p += snprintf(p, (size_t)(end - p),
		      "# HELP hound_api_rate_limited_total Capture and alert requests refused by "
		      "the API rate limit.\n"
		      "# TYPE hound_api_rate_limited_total counter\n"
		      "hound_api_rate_limited_total %llu\n",
		      (unsigned long long)limited);
	r->status = 200;
	r->body = buf;
	r->len = (size_t)(p - buf);
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

void api_get_targets(struct api_server *s, struct api_reply *r)
{
	struct json_writer w;
	json_init(&w, false);
	agent_write_targets_json(s->a, &w);
	api_reply_json(r, 200, &w);
}

void api_get_captures(struct api_server *s, struct api_reply *r)
{
	struct json_writer w;
	json_init(&w, false);
	agent_write_captures_json(s->a, &w);
	api_reply_json(r, 200, &w);
}

/* The HTTP status for a refused capture. */
static int refusal_status(enum agent_refusal why)
{
	switch (why) {
	case REFUSE_UNKNOWN_TARGET:
		return 404;
	case REFUSE_BAD_KIND:
		return 400;
	case REFUSE_NO_PROCESS:
	case REFUSE_BUSY:
		return 409;
	case REFUSE_DISK:
		return 507;
	case REFUSE_LIMIT:
	case REFUSE_COOLDOWN:
	case REFUSE_QUEUE:
		return 429;
	default:
		return 500;
	}
}

static bool rate_ok(struct api_server *s, struct api_bucket *b, struct api_reply *r,
		    const char *what, int per_min)
{
	int retry = 0;
	pthread_mutex_lock(&s->lock);
	bool ok = api_bucket_take(b, util_mono_ms(), &retry);
	if (!ok)
		s->rate_limited++;
	pthread_mutex_unlock(&s->lock);
	if (ok)
		return true;
	api_reply_error(r, 429, "rate limited: at most %d %s a minute; retry in %ds", per_min, what,
			retry);
	r->retry_after_s = retry;
	return false;
}

static void write_ids(struct json_writer *w, const struct agent_capture_result *res)
{
	json_key(w, "ids");
	json_arr_begin(w);
	for (size_t i = 0; i < res->nids; i++)
		json_str(w, res->ids[i]);
	json_arr_end(w);
}

void api_post_captures(struct api_server *s, const char *body, size_t len, struct api_reply *r)
{
	struct api_capture_body b;
	char err[API_ERR_LEN];
	char ids[MAX_IDS][256];
	bool bad_kind = false;
	struct json_writer w;

	if (api_parse_capture(body, len, &b, &bad_kind, err, sizeof(err)) < 0) {
		api_reply_error(r, 400, "%s", err);
		goto out;
	}
	if (!rate_ok(s, &s->capture_rl, r, "capture requests", API_CAPTURE_PER_MIN))
		goto out;
	struct agent_capture_req req = {
	    .target = b.target,
	    .pid = b.pid,
	    .capture = b.has_capture ? &b.capture : NULL,
	    .kind = TRIGGER_API,
	    .reason = b.reason ? b.reason : "requested through the API",
	};
	struct agent_capture_result res = {.ids = ids, .max_ids = MAX_IDS};
	int rc = agent_request_capture(s->a, &req, &res);
	if (rc < 0 && res.nids == 0) {
		enum agent_refusal why = res.refusal == REFUSE_NONE ? REFUSE_QUEUE : res.refusal;
		json_init(&w, false);
		json_obj_begin(&w);
		json_kv_str(&w, "error", res.detail[0] ? res.detail : agent_refusal_name(why));
		json_kv_str(&w, "refusal", agent_refusal_name(why));
		json_kv_str(&w, "detail", res.detail);
		json_obj_end(&w);
		/* a pid that is not the target's is "not found"; no process at all is a conflict */
		api_reply_json(r, why == REFUSE_NO_PROCESS && b.pid ? 404 : refusal_status(why),
			       &w);
		log_info("API capture refused", "target=%s pid=%d reason=%s", b.target, (int)b.pid,
			 agent_refusal_name(why));
		goto out;
	}
	json_init(&w, false);
	json_obj_begin(&w);
	json_kv_str(&w, "id", res.ids[0]);
	write_ids(&w, &res);
	json_kv_str(&w, "target", b.target);
	if (res.refusal != REFUSE_NONE) { /* some processes of the target were refused */
		json_kv_str(&w, "refusal", agent_refusal_name(res.refusal));
		json_kv_str(&w, "detail", res.detail);
	}
	json_obj_end(&w);
	api_reply_json(r, 202, &w);
	log_info("API capture queued", "target=%s pid=%d bundles=%zu first=%s", b.target,
		 (int)b.pid, res.nids, res.ids[0]);
out:
	api_capture_body_fini(&b);
}

/* "alert HighMemory is firing: summary text" */
static void alert_reason(const struct api_alert *al, char *out, size_t len)
{
	const char *name = api_label_get(al->labels, al->nlabels, "alertname");
	const char *sum = api_label_get(al->annotations, al->nannotations, "summary");
	if (!sum)
		sum = api_label_get(al->annotations, al->nannotations, "description");
	snprintf(out, len, "Alertmanager alert %.128s is firing%s%.400s", name ? name : "(unnamed)",
		 sum ? ": " : "", sum ? sum : "");
}

/* Routes and captures one alert; writes its summary object. Returns true when it captured. */
static bool one_alert(struct api_server *s, const struct hound_config *cfg,
		      const struct api_alert *al, struct json_writer *w)
{
	const char *name = api_label_get(al->labels, al->nlabels, "alertname");
	const char *target = NULL;
	char ids[MAX_IDS][256], key[256], reason[600];
	struct agent_capture_result res = {.ids = ids, .max_ids = MAX_IDS};
	const char *action;

	json_obj_begin(w);
	json_kv_str(w, "alertname", name);
	json_kv_str(w, "fingerprint", al->fingerprint);
	json_kv_str(w, "status", al->status);
	if (!al->firing) {
		action = "ignored";
		goto done;
	}
	const struct alert_route *route = api_route_alert(cfg, al, &target);
	if (!route) {
		action = "no_route";
		goto done;
	}
	const struct target_conf *t = config_find_target(cfg, target);
	api_alert_dedup_key(al, target, key, sizeof(key));
	alert_reason(al, reason, sizeof(reason));
	struct agent_capture_req req = {
	    .target = target,
	    .capture = &route->capture,
	    .kind = TRIGGER_ALERT,
	    .reason = reason,
	    .alert_labels = al->labels,
	    .nalert_labels = al->nlabels,
	    .alert_annotations = al->annotations,
	    .nalert_annotations = al->nannotations,
	    .alert_generator_url = al->generator_url,
	    .dedup_key = key,
	    .cooldown_ms = t && t->nrules ? t->rules[0].cooldown_ms : DEFAULT_ALERT_COOLDOWN_MS,
	};
	agent_request_capture(s->a, &req, &res);
	action = res.nids ? "captured" : "refused";
done:
	json_kv_str(w, "action", action);
	if (target)
		json_kv_str(w, "target", target);
	if (res.nids)
		write_ids(w, &res);
	if (res.refusal != REFUSE_NONE) {
		json_kv_str(w, "refusal", agent_refusal_name(res.refusal));
		json_kv_str(w, "detail", res.detail);
	}
	json_obj_end(w);
	log_info("alert received",
		 "alertname=%s status=%s fingerprint=%s target=%s action=%s reason=%s bundles=%zu",
		 name ? name : "", al->status, al->fingerprint ? al->fingerprint : "",
		 target ? target : "", action,
		 res.refusal != REFUSE_NONE ? agent_refusal_name(res.refusal) : "", res.nids);
	return res.nids > 0;
}

void api_post_alerts(struct api_server *s, const char *body, size_t len, struct api_reply *r)
{
	struct api_webhook wh;
	char err[API_ERR_LEN];
	struct json_writer w;
	size_t captured = 0;

	if (api_parse_webhook(body, len, &wh, err, sizeof(err)) < 0) {
		api_reply_error(r, 400, "%s", err);
		goto out;
	}
	if (!rate_ok(s, &s->alert_rl, r, "alert webhooks", API_ALERT_PER_MIN))
		goto out;
	/* The API is stopped before a reload frees the config, so it stays valid here. */
	const struct hound_config *cfg = agent_config(s->a);
	json_init(&w, false);
	json_obj_begin(&w);
	json_key(&w, "alerts");
	json_arr_begin(&w);
	for (size_t i = 0; i < wh.nalerts; i++)
		captured += one_alert(s, cfg, &wh.alerts[i], &w);
	json_arr_end(&w);
	json_kv_int(&w, "received", (int64_t)wh.nalerts);
	json_kv_int(&w, "captured", (int64_t)captured);
	json_obj_end(&w);
	api_reply_json(r, 200, &w);
out:
	api_webhook_fini(&wh);
}
