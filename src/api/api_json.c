/* api_json: the API's JSON input (jansson): capture requests and Alertmanager webhooks. */
#include "api/api_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metric.h"
#include "lib/sha256.h"
#include "lib/units.h"
#include "lib/util.h"

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Parses a whole body as one JSON object. Returns NULL (err filled) on bad JSON. */
static json_t *load_object(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		bad(err, errlen, "bad JSON at line %d column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		bad(err, errlen, "the body must be a JSON object");
		return NULL;
	}
	return root;
}

/* A short, printable copy of a client-supplied name for an error message. */
static void clip(const char *s, char *out, size_t len)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < len && i < 40; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') ? s[i] : '?';
	out[i] = '\0';
}

/* ---- POST /v1/captures ---- */

static int duration_in(json_t *v, const char *what, int64_t lo, int64_t hi, int64_t *out, char *err,
		       size_t errlen)
{
	const char *why = NULL;
	if (!json_is_string(v))
		return bad(err, errlen, "%s: expected a duration string like \"10s\"", what);
	if (units_parse_duration(json_string_value(v), out, &why) < 0)
		return bad(err, errlen, "%s: bad duration%s%s", what, why ? ": " : "",
			   why ? why : "");
	if (*out < lo || *out > hi)
		return bad(err, errlen, "%s: must be between %llds and %llds", what,
			   (long long)lo / 1000, (long long)hi / 1000);
	return 0;
}

static int capture_item(json_t *v, struct capture_item *it, bool *bad_kind, char *err,
			size_t errlen)
{
	const char *name;
	json_t *dur = NULL;
	char shown[48];
	int k;

	memset(it, 0, sizeof(*it));
	if ((json_is_object(v) && json_object_get(v, "command")) ||
	    (json_is_string(v) && !strcmp(json_string_value(v), "command"))) {
		/* A request must not be able to run programs with the agent's privileges. */
		return bad(err, errlen,
			   "capture: command captures run programs as the agent; they can only be "
			   "configured in rules and alert routes, not requested over the API");
	} else if (json_is_string(v)) {
		name = json_string_value(v);

	} else if (json_is_object(v) && json_object_size(v) == 1) {
		void *iter = json_object_iter(v);
		name = json_object_iter_key(iter);
		dur = json_object_iter_value(iter);
	} else {
		return bad(err, errlen,
			   "capture: each item is a kind name like \"heap\", {\"cpu\":\"10s\"} or "
			   "{\"trace\":\"5s\"}");
	}
	k = capture_kind_by_name(name);
	if (k < 0) {
		if (bad_kind)
			*bad_kind = true;
		clip(name, shown, sizeof(shown));
		return bad(err, errlen, "unknown capture kind '%s'", shown);
	}
	if (k == K_COMMAND)
		return bad(err, errlen,
			   "command needs an argument list: {\"command\":[\"prog\",\"arg\"]}");
	it->kind = (enum capture_kind)k;
	it->duration_ms = k == K_CPU || k == K_HEAP ? 10000 : k == K_TRACE ? 5000 : 0;
	if (!dur)
		return 0;
	if (!capture_kind_has_duration(it->kind))
		return bad(err, errlen, "'%s' takes no duration: write it as a plain name", name);
	return duration_in(dur, name, 1000, 600000, &it->duration_ms, err, errlen);
}

static int capture_list(json_t *arr, struct capture_list *out, bool *bad_kind, char *err,
			size_t errlen)
{
	size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
	if (!json_is_array(arr) || n == 0)
		return bad(err, errlen, "capture: expected a non-empty list");
	if (n > API_MAX_CAPTURES)
		return bad(err, errlen, "capture: at most %d items", API_MAX_CAPTURES);
	out->items = xcalloc(n, sizeof(*out->items));
	for (size_t i = 0; i < n; i++) {
		int rc =
		    capture_item(json_array_get(arr, i), &out->items[i], bad_kind, err, errlen);
		out->n = i + 1; /* so _fini frees a half-built command item too */
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (out->items[i].kind != K_COMMAND &&
			    out->items[j].kind == out->items[i].kind)
				return bad(err, errlen, "capture: '%s' is listed twice",
					   capture_kind_name(out->items[i].kind));
	}
	return 0;
}

static char *dup_str(json_t *v)
{
	return xstrndup(json_string_value(v), json_string_length(v));
}

int api_parse_capture(const char *body, size_t len, struct api_capture_body *out, bool *bad_kind,
		      char *err, size_t errlen)
{
	const char *key;
	json_t *v, *root;
	int rc = 0;
	char shown[48];

	memset(out, 0, sizeof(*out));
	if (bad_kind)
		*bad_kind = false;
	root = load_object(body, len, err, errlen);
	if (!root)
		return -EINVAL;
	json_object_foreach(root, key, v)
	{
		if (!strcmp(key, "target")) {
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > 128 ||
			    strlen(json_string_value(v)) != json_string_length(v)) {
				rc = bad(err, errlen, "target: expected a target name");
				break;
			}
			out->target = dup_str(v);
		} else if (!strcmp(key, "pid")) {
			if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
			    json_integer_value(v) > 0x7fffffff) {
				rc = bad(err, errlen, "pid: expected a positive integer");
				break;
			}
			out->pid = (pid_t)json_integer_value(v);
		} else if (!strcmp(key, "capture")) {
			out->has_capture = true;
			rc = capture_list(v, &out->capture, bad_kind, err, errlen);
			if (rc < 0)
				break;
		} else if (!strcmp(key, "reason")) {
			if (!json_is_string(v) || json_string_length(v) > 1024) {
				rc = bad(err, errlen,
					 "reason: expected a string of at most 1024 bytes");
				break;
			}
			out->reason = dup_str(v);
		} else {
			clip(key, shown, sizeof(shown));
			rc = bad(err, errlen,
				 "unknown field '%s' (expected target, pid, capture, reason)",
				 shown);
			break;
		}
	}
	if (rc == 0 && !out->target)
		rc = bad(err, errlen, "target: missing");
	json_decref(root);
	return rc;
}

static void capture_list_free(struct capture_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		for (char **a = l->items[i].argv; a && *a; a++)
			free(*a);
		free(l->items[i].argv);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void api_capture_body_fini(struct api_capture_body *b)
{
	free(b->target);
	free(b->reason);
	capture_list_free(&b->capture);
	memset(b, 0, sizeof(*b));
}

/* ---- POST /v1/alerts ---- */

static int cmp_label(const void *x, const void *y)
{
	return strcmp(((const struct label *)x)->key, ((const struct label *)y)->key);
}

static void labels_free(struct label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

/* A {"name":"value"} object of strings into a sorted label array. */
static int label_set(json_t *o, const char *what, struct label **out, size_t *n, char *err,
		     size_t errlen)
{
	const char *key;
	json_t *v;

	*out = NULL;
	*n = 0;
	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o))
		return bad(err, errlen, "alert %s: expected an object of strings", what);
	if (json_object_size(o) > API_MAX_LABELS)
		return bad(err, errlen, "alert %s: at most %d entries", what, API_MAX_LABELS);
	*out = xcalloc(json_object_size(o) ? json_object_size(o) : 1, sizeof(**out));
	json_object_foreach(o, key, v)
	{
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return bad(err, errlen, "alert %s: every value must be a string", what);
		(*out)[*n].key = xstrdup(key);
		(*out)[*n].value = dup_str(v);
		(*n)++;
	}
	qsort(*out, *n, sizeof(**out), cmp_label);
	return 0;
}

static int one_alert(json_t *o, struct api_alert *al, char *err, size_t errlen)
{
	json_t *st, *fp;

	if (!json_is_object(o))
		return bad(err, errlen, "alerts: every alert must be an object");
	st = json_object_get(o, "status");
	if (!json_is_string(st))
		return bad(err, errlen, "alert status: expected \"firing\" or \"resolved\"");
	al->status = dup_str(st);
	if (strcmp(al->status, "firing") && strcmp(al->status, "resolved"))
		return bad(err, errlen, "alert status: expected \"firing\" or \"resolved\"");
	al->firing = !strcmp(al->status, "firing");
	if (label_set(json_object_get(o, "labels"), "labels", &al->labels, &al->nlabels, err,
		      errlen) < 0 ||
	    label_set(json_object_get(o, "annotations"), "annotations", &al->annotations,
		      &al->nannotations, err, errlen) < 0)
		return -EINVAL;
	fp = json_object_get(o, "fingerprint");
	if (json_is_string(fp) && json_string_length(fp) > 0 && json_string_length(fp) <= 128)
		al->fingerprint = dup_str(fp);
	json_t *gu = json_object_get(o, "generatorURL");
	if (json_is_string(gu) && json_string_length(gu) > 0 && json_string_length(gu) <= 2048 &&
	    strlen(json_string_value(gu)) == json_string_length(gu))
		al->generator_url = dup_str(gu);
	return 0;
}

int api_parse_webhook(const char *body, size_t len, struct api_webhook *out, char *err,
		      size_t errlen)
{
	json_t *root, *v, *alerts;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	root = load_object(body, len, err, errlen);
	if (!root)
		return -EINVAL;
	v = json_object_get(root, "version");
	if (v && !(json_is_string(v) && !strcmp(json_string_value(v), "4"))) {
		rc = bad(err, errlen,
			 "unsupported webhook version (hound reads Alertmanager's version 4)");
		goto out;
	}
	v = json_object_get(root, "status");
	if (json_is_string(v))
		out->status = dup_str(v);
	v = json_object_get(root, "receiver");
	if (json_is_string(v))
		out->receiver = dup_str(v);
	alerts = json_object_get(root, "alerts");
	if (!json_is_array(alerts)) {
		rc = bad(err, errlen, "alerts: expected a list (is this an Alertmanager webhook?)");
		goto out;
	}
	if (json_array_size(alerts) > API_MAX_ALERTS) {
		rc = bad(err, errlen, "alerts: at most %d alerts per webhook", API_MAX_ALERTS);
		goto out;
	}
	out->alerts = xcalloc(json_array_size(alerts) + 1, sizeof(*out->alerts));
	for (size_t i = 0; i < json_array_size(alerts); i++) {
		out->nalerts = i + 1;
		rc = one_alert(json_array_get(alerts, i), &out->alerts[i], err, errlen);
		if (rc < 0)
			break;
	}
out:
	json_decref(root);
	return rc;
}

void api_webhook_fini(struct api_webhook *w)
{
	for (size_t i = 0; i < w->nalerts; i++) {
		struct api_alert *al = &w->alerts[i];
		free(al->status);
		free(al->fingerprint);
		free(al->generator_url);
		labels_free(al->labels, al->nlabels);
		labels_free(al->annotations, al->nannotations);
	}
	free(w->alerts);
	free(w->status);
	free(w->receiver);
	memset(w, 0, sizeof(*w));
}

const char *api_label_get(const struct label *l, size_t n, const char *key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l[mid].key, key);
		if (c == 0)
			return l[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct alert_route *api_route_alert(const struct hound_config *c, const struct api_alert *al,
					  const char **target)
{
	for (size_t i = 0; i < c->nalerts; i++) {
		const struct alert_route *r = &c->alerts[i];
		bool ok = true;
		for (size_t j = 0; ok && j < r->nmatch; j++) {
			const char *v = api_label_get(al->labels, al->nlabels, r->match[j].key);
			ok = v && !strcmp(v, r->match[j].value ? r->match[j].value : "");
		}
		if (!ok)
			continue;
		if (r->target) {
			*target = r->target;
			return r;
		}
		const char *t = r->target_label
				    ? api_label_get(al->labels, al->nlabels, r->target_label)
				    : NULL;
		if (t && *t) {
			*target = t;
			return r;
		}
	}
	*target = NULL;
	return NULL;
}

void api_alert_dedup_key(const struct api_alert *al, const char *target, char *out, size_t len)
{
	char hex[65];

	if (al->fingerprint) {
		snprintf(out, len, "alert/%.64s/%.128s", target, al->fingerprint);
		return;
	}
	struct sha256_ctx c;
	uint8_t dg[32];
	sha256_init(&c);
	for (size_t i = 0; i < al->nlabels; i++) {
		/* key NUL value NUL: no two label sets hash the same text */
		sha256_update(&c, al->labels[i].key, strlen(al->labels[i].key) + 1);
		sha256_update(&c, al->labels[i].value, strlen(al->labels[i].value) + 1);
	}
	sha256_final(&c, dg);
	sha256_hex(dg, hex);
	snprintf(out, len, "alert/%.64s/%s", target, hex);
}
