/* api_json: the API's JSON input (jansson): capture requests, Alertmanager webhooks, status. */
#ifndef HOUND_API_JSON_H
#define HOUND_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "config/config.h"

/*
 * The parsers are pure (no I/O, no clock) and never trust their input: any
 * byte sequence gives either a filled structure or -EINVAL with a short
 * message in err that is safe to send back to the client. They are the
 * target of tests/fuzz/fuzz_api_json.c.
 */

#define API_ERR_LEN	 256
#define API_MAX_CAPTURES 32   /* items in one capture list (as in the config) */
#define API_MAX_ALERTS	 1000 /* alerts in one webhook */
#define API_MAX_LABELS	 128  /* labels or annotations per alert */

/* Body of POST /v1/captures. Everything is owned by the struct. */
struct api_capture_body {
	char *target;
	pid_t pid;	  /* 0: every process of the target */
	bool has_capture; /* false: the target's default kinds */
	struct capture_list capture;
	char *reason; /* NULL when not given */
};

/*
 * Parses {"target":"api","pid":123,"capture":["heap",{"cpu":"10s"},
 * {"command":["jcmd","{pid}","GC.run"],"timeout":"30s"}],"reason":"..."}.
 * Unknown fields, unknown kinds, bad durations are errors. On failure *bad_kind
 * (may be NULL) tells an unknown capture kind apart from other errors.
 * Returns 0 or -EINVAL; out is zeroed first and must be freed with
 * api_capture_body_fini in both cases.
 */
int api_parse_capture(const char *body, size_t len, struct api_capture_body *out, bool *bad_kind,
		      char *err, size_t errlen);
void api_capture_body_fini(struct api_capture_body *b);

/* One alert of an Alertmanager webhook. */
struct api_alert {
	bool firing; /* status == "firing" */
	char *status;
	struct label *labels; /* sorted by key */
	size_t nlabels;
	struct label *annotations; /* sorted by key */
	size_t nannotations;
	char *fingerprint; /* NULL when absent */
	char *generator_url; /* the alert's generatorURL: where it came from; NULL when absent */
};

/* An Alertmanager webhook (version 4); fields hound does not use are ignored. */
struct api_webhook {
	char *status;
	char *receiver;
	struct api_alert *alerts;
	size_t nalerts;
};

/* Parses a webhook body. 0 or -EINVAL (err filled); free with api_webhook_fini either way. */
int api_parse_webhook(const char *body, size_t len, struct api_webhook *out, char *err,
		      size_t errlen);
void api_webhook_fini(struct api_webhook *w);
/* The value of label key in a sorted label array, or NULL. */
const char *api_label_get(const struct label *l, size_t n, const char *key);

/*
 * Routes one alert through the config's `alerts:` list: the first route whose
 * `match` labels all equal the alert's (and, with target_label, whose alert
 * carries that label) wins. Returns the route and sets *target (pointing into
 * the route or the alert), or NULL when no route applies.
 */
const struct alert_route *api_route_alert(const struct hound_config *c, const struct api_alert *al,
					  const char **target);

/*
 * A key that is the same for the same alert: "alert/TARGET/" followed by the
 * fingerprint, or by the sha256 of the sorted labels when there is none.
 */
void api_alert_dedup_key(const struct api_alert *al, const char *target, char *out, size_t len);

/*
 * Renders what `hound status` prints from the bodies of GET /healthz,
 * /v1/targets and /v1/captures (any may be NULL). Returns 0, or -EINVAL when
 * a body is not the JSON the API writes.
 */
int api_status_render(FILE *out, const char *addr, long health_status, const char *health,
		      const char *targets, const char *captures);

#endif
