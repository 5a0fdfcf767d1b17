/* json: a streaming JSON writer into a growable buffer (output only). */
#include "lib/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void json_init(struct json_writer *w, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->pretty = pretty;
	w->cap = 256;
	w->buf = xmalloc(w->cap);
	w->buf[0] = '\0';
}

void json_fini(struct json_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

char *json_take(struct json_writer *w, size_t *len)
{
	char *b = w->buf;
	if (len)
		*len = w->len;
	w->buf = NULL;
	json_fini(w);
	return b;
}

static void append(struct json_writer *w, const char *s, size_t n)
{
	if (w->len + n + 1 > w->cap) {
		while (w->len + n + 1 > w->cap)
			w->cap *= 2;
		w->buf = xrealloc(w->buf, w->cap);
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void newline(struct json_writer *w)
{
	if (!w->pretty)
		return;
	append(w, "\n", 1);
	for (int i = 0; i < w->depth; i++)
		append(w, "  ", 2);
}

/* Called before every value or key: comma and indentation. */
static void pre_value(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth > 0) {
		if (w->need_comma[w->depth])
			append(w, ",", 1);
		w->need_comma[w->depth] = true;
		newline(w);
	}
}

static void open_(struct json_writer *w, char c)
{
	pre_value(w);
	append(w, &c, 1);
	if (w->depth < 63)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_(struct json_writer *w, char c)
{
	bool had = w->need_comma[w->depth];
	if (w->depth > 0)
		w->depth--;
	if (had)
		newline(w);
	append(w, &c, 1);
}

void json_obj_begin(struct json_writer *w) { open_(w, '{'); }
void json_obj_end(struct json_writer *w) { close_(w, '}'); }
void json_arr_begin(struct json_writer *w) { open_(w, '['); }
void json_arr_end(struct json_writer *w) { close_(w, ']'); }

void json_escape_into(struct json_writer *w, const char *s, size_t n)
{
	append(w, "\"", 1);
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		unsigned char c = *p;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			append(w, esc, 2);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			append(w, esc, 6);
			p++;
		} else if (c < 0x80) {
			append(w, (const char *)p, 1);
			p++;
		} else {
			/* Validate one UTF-8 sequence; replace bad bytes with U+FFFD. */
			size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
			bool good = len > 0 && (size_t)(end - p) >= len;
			for (size_t i = 1; good && i < len; i++)
				good = (p[i] & 0xc0) == 0x80;
			if (good) {
				append(w, (const char *)p, len);
				p += len;
			} else {
				append(w, "\\ufffd", 6);
				p++;
			}
		}
	}
	append(w, "\"", 1);
}

void json_key(struct json_writer *w, const char *k)
{
	pre_value(w);
	json_escape_into(w, k, strlen(k));
	append(w, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
	w->after_key = true;
}

void json_strn(struct json_writer *w, const char *s, size_t n)
{
	pre_value(w);
	json_escape_into(w, s, n);
}

void json_str(struct json_writer *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	json_strn(w, s, strlen(s));
}

void json_int(struct json_writer *w, int64_t v)
{
	char b[32];
	pre_value(w);
	append(w, b, (size_t)snprintf(b, sizeof(b), "%lld", (long long)v));
}

void json_uint(struct json_writer *w, uint64_t v)
{
	char b[32];
	pre_value(w);
	append(w, b, (size_t)snprintf(b, sizeof(b), "%llu", (unsigned long long)v));
}

void json_double(struct json_writer *w, double v)
{
	char b[40];
	if (!isfinite(v)) {
		json_null(w);
		return;
	}
	pre_value(w);
	if (v == floor(v) && fabs(v) < 1e15)
		append(w, b, (size_t)snprintf(b, sizeof(b), "%.0f", v));
	else {
		/* Shortest form that reads back as the same double. */
		int n = snprintf(b, sizeof(b), "%.15g", v);
		if (strtod(b, NULL) != v)
			n = snprintf(b, sizeof(b), "%.17g", v);
		append(w, b, (size_t)n);
	}
}

void json_bool(struct json_writer *w, bool v)
{
	pre_value(w);
	append(w, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json_writer *w)
{
	pre_value(w);
	append(w, "null", 4);
}

void json_raw(struct json_writer *w, const char *text)
{
	pre_value(w);
	append(w, text, strlen(text));
}

void json_kv_str(struct json_writer *w, const char *k, const char *v)
{
	json_key(w, k);
	json_str(w, v);
}

void json_kv_int(struct json_writer *w, const char *k, int64_t v)
{
	json_key(w, k);
	json_int(w, v);
}

void json_kv_double(struct json_writer *w, const char *k, double v)
{
	json_key(w, k);
	json_double(w, v);
}

void json_kv_bool(struct json_writer *w, const char *k, bool v)
{
	json_key(w, k);
	json_bool(w, v);
}
