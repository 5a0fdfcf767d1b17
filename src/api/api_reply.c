/*
 * api_reply: what the server and the routes share: the JSON and error replies,
 * the table of status codes the metrics count, the handlers' paths and the
 * token buckets of the rate limits. It calls neither the server nor a route.
 */
#include "api/api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/util.h"

static const int codes[API_CODES] = {200, 202, 400, 401, 403, 404, 405,
				     409, 413, 429, 500, 503, 507, 0};

int api_code_index(int status)
{
	for (int i = 0; i < API_CODES - 1; i++)
		if (codes[i] == status)
			return i;
	return API_CODES - 1;
}

int api_code_at(int index)
{
	return codes[index];
}

const char *api_handler_path(enum api_handler h)
{
	static const char *const p[H_COUNT] = {"/healthz",	   "/metrics",
					       "/v1/targets",	   "/v1/captures",
					       "/v1/alerts",	   "/v1/captures/{id}",
					       "other"};
	return p[h];
}

void api_reply_json(struct api_reply *r, int status, struct json_writer *w)
{
	r->status = status;
	r->body = json_take(w, &r->len);
	r->content_type = "application/json";
}

void api_reply_error(struct api_reply *r, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	struct json_writer w;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_init(&w, false);
	json_obj_begin(&w);
	json_kv_str(&w, "error", msg);
	json_obj_end(&w);
	free(r->body);
	api_reply_json(r, status, &w);
}

bool api_bucket_take(struct api_bucket *b, int64_t now_ms, int *retry_s)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->per_ms;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ms = now_ms;
	}
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return true;
	}
	*retry_s = (int)((1.0 - b->tokens) / b->per_ms / 1000.0) + 1;
	return false;
}
