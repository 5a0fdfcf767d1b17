/* api_int: state shared by the API server (api.c) and its request handlers (api_routes.c). */
#ifndef HOUND_API_INT_H
#define HOUND_API_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"
#include "lib/json.h"

#define API_BODY_MAX   (1024 * 1024)	  /* 413 above this */
#define API_BODY_TOTAL (16 * 1024 * 1024) /* all request bodies in flight: 503 above */

/*
 * Capture requests are rate limited by token buckets, on top of each
 * target's `limits` and the rules' cooldowns: POST /v1/captures may start
 * API_CAPTURE_BURST requests at once and API_CAPTURE_PER_MIN a minute after
 * that; Alertmanager webhooks (which batch and repeat alerts, and are
 * de-duplicated by fingerprint) get a wider bucket of their own.
 */
#define API_CAPTURE_PER_MIN 10
#define API_CAPTURE_BURST   10
#define API_ALERT_PER_MIN   60
#define API_ALERT_BURST	    30

enum api_handler {
	H_HEALTHZ,
	H_METRICS,
	H_TARGETS,
	H_CAPTURES,
	H_ALERTS,
	H_CAPTURE_ITEM, /* /v1/captures/{id}[/files/{name} | /report.html] */
	H_OTHER,
	H_COUNT
};

/* The status codes the API answers with; indexes of the request counters. */
#define API_CODES 14

struct api_bucket {
	double tokens, burst, per_ms;
	int64_t last_ms;
};

struct api_server {
	agent *a;
	void *daemon; /* struct MHD_Daemon */
	struct api_gate *gate;
	int listen_fd;
	char *listen;
	char *token;	      /* NULL: no authentication; wiped on stop */
	pthread_mutex_t lock; /* guards everything below */
	struct api_bucket capture_rl, alert_rl;
	size_t body_bytes; /* request bodies buffered now */
	uint64_t requests[H_COUNT][API_CODES];
	uint64_t rate_limited;
};

/* One answer; the server sends it and frees body. */
struct api_reply {
	int status;
	char *body; /* malloc'd */
	size_t len;
	const char *content_type;
	const char *allow; /* Allow header for 405 */
	int retry_after_s; /* > 0: Retry-After header */
	bool has_fd;	   /* send fd (len bytes) instead of body; the server closes it */
	int fd;
	const char *filename; /* Content-Disposition: attachment; filename=... (a plain name) */
};

/* Sets a JSON reply from w (takes its buffer). */
void api_reply_json(struct api_reply *r, int status, struct json_writer *w);
/* {"error": "..."} */
void api_reply_error(struct api_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Takes one token from b (caller holds s->lock); false with *retry_s set when empty. */
bool api_bucket_take(struct api_bucket *b, int64_t now_ms, int *retry_s);
/* Index of a status code in api_server.requests, and back. */
int api_code_index(int status);
int api_code_at(int index);
const char *api_handler_path(enum api_handler h);

/* api_routes.c: the handlers. body is NUL-terminated (len bytes). */
void api_get_healthz(struct api_server *s, struct api_reply *r);
void api_get_metrics(struct api_server *s, struct api_reply *r);
void api_get_targets(struct api_server *s, struct api_reply *r);
void api_get_captures(struct api_server *s, struct api_reply *r);
void api_post_captures(struct api_server *s, const char *body, size_t len, struct api_reply *r);
void api_post_alerts(struct api_server *s, const char *body, size_t len, struct api_reply *r);

/* api_bundle.c: one bundle; rest is the URL after "/v1/captures/". */
void api_get_capture_item(struct api_server *s, const char *rest, struct api_reply *r);

#endif
