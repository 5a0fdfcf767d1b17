/* json: a streaming JSON writer into a growable buffer (output only). */
#ifndef HOUND_JSON_H
#define HOUND_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Usage: json_init(&w, pretty); json_obj_begin(&w); json_key(&w,"a");
 * json_int(&w, 1); json_obj_end(&w); ... use w.buf / w.len; json_fini(&w).
 * Commas are inserted automatically. The writer owns w.buf.
 */
struct json_writer {
	char *buf;
	size_t len, cap;
	bool pretty;
	int depth;
	bool need_comma[64];
	bool after_key;
};

void json_init(struct json_writer *w, bool pretty);
void json_fini(struct json_writer *w);
/* Detaches the buffer (caller frees); the writer is reset. */
char *json_take(struct json_writer *w, size_t *len);
void json_obj_begin(struct json_writer *w);
void json_obj_end(struct json_writer *w);
void json_arr_begin(struct json_writer *w);
void json_arr_end(struct json_writer *w);
void json_key(struct json_writer *w, const char *k);
void json_str(struct json_writer *w, const char *s); /* NULL writes null */
void json_strn(struct json_writer *w, const char *s, size_t n);
void json_int(struct json_writer *w, int64_t v);
void json_uint(struct json_writer *w, uint64_t v);
void json_double(struct json_writer *w, double v); /* NaN/Inf write null */
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* Inserts already-valid JSON text as one value. */
void json_raw(struct json_writer *w, const char *text);
/* Shorthands for "key": value. */
void json_kv_str(struct json_writer *w, const char *k, const char *v);
void json_kv_int(struct json_writer *w, const char *k, int64_t v);
void json_kv_double(struct json_writer *w, const char *k, double v);
void json_kv_bool(struct json_writer *w, const char *k, bool v);
/* Appends s to buf as a JSON string literal with quotes (escaping control bytes and invalid UTF-8). */
void json_escape_into(struct json_writer *w, const char *s, size_t n);

#endif
