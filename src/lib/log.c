/* log: structured log lines (logfmt or JSON) on stderr. */
#include "lib/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

static enum log_format log_fmt = LOG_FMT_LOGFMT;
static enum log_level log_min = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_format fmt, enum log_level min_level)
{
	log_fmt = fmt;
	log_min = min_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < ARRAY_LEN(level_names); i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_parse_format(const char *s, enum log_format *out)
{
	if (!strcmp(s, "logfmt"))
		*out = LOG_FMT_LOGFMT;
	else if (!strcmp(s, "json"))
		*out = LOG_FMT_JSON;
	else
		return -EINVAL;
	return 0;
}

bool log_enabled(enum log_level lvl)
{
	return lvl >= log_min;
}

/* A line buffer that silently truncates: a log line must never fail. */
struct line {
	char buf[4096];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - 2 - l->len)
		n = sizeof(l->buf) - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void put_value(struct line *l, const char *v, size_t n)
{
	bool quote = n == 0;
	for (size_t i = 0; i < n && !quote; i++) {
		unsigned char c = (unsigned char)v[i];
		quote = c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f;
	}
	if (log_fmt == LOG_FMT_LOGFMT && !quote) {
		put(l, v, n);
		return;
	}
	put(l, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(l, esc, 2);
		} else if (c == '\n') {
			put(l, "\\n", 2);
		} else if (c == '\t') {
			put(l, "\\t", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(l, esc, strlen(esc));
		} else {
			put(l, (const char *)&v[i], 1);
		}
	}
	put(l, "\"", 1);
}

static void put_pair(struct line *l, const char *k, size_t kn, const char *v, size_t vn)
{
	if (log_fmt == LOG_FMT_JSON) {
		put(l, ",\"", 2);
		put(l, k, kn);
		put(l, "\":", 2);
		put_value(l, v, vn);
	} else {
		put(l, " ", 1);
		put(l, k, kn);
		put(l, "=", 1);
		put_value(l, v, vn);
	}
}

/* Finds the next " key=" boundary in s (keys are [a-z0-9_.]+). */
static const char *next_key(const char *s)
{
	for (const char *p = s; *p; p++) {
		if (*p != ' ')
			continue;
		const char *k = p + 1;
		while (islower((unsigned char)*k) || isdigit((unsigned char)*k) || *k == '_' || *k == '.')
			k++;
		if (k > p + 1 && *k == '=')
			return p;
	}
	return NULL;
}

static void put_fields(struct line *l, const char *f)
{
	while (*f == ' ')
		f++;
	while (*f) {
		const char *eq = strchr(f, '=');
		if (!eq) {
			put_pair(l, "detail", 6, f, strlen(f));
			return;
		}
		const char *end = next_key(eq + 1);
		size_t vn = end ? (size_t)(end - eq - 1) : strlen(eq + 1);
		put_pair(l, f, (size_t)(eq - f), eq + 1, vn);
		if (!end)
			return;
		f = end + 1;
	}
}

void log_msg(enum log_level lvl, const char *msg, const char *fields, ...)
{
	if (lvl < log_min)
		return;
	int saved = errno;
	struct line l = {.len = 0};
	char ts[40];
	util_fmt_time(util_wall_ms(), ts, sizeof(ts));

	if (log_fmt == LOG_FMT_JSON) {
		puts_(&l, "{\"ts\":\"");
		puts_(&l, ts);
		puts_(&l, "\",\"level\":\"");
		puts_(&l, level_names[lvl]);
		puts_(&l, "\",\"msg\":");
		put_value(&l, msg, strlen(msg));
	} else {
		puts_(&l, "ts=");
		puts_(&l, ts);
		puts_(&l, " level=");
		puts_(&l, level_names[lvl]);
		puts_(&l, " msg=");
		put_value(&l, msg, strlen(msg));
	}
	if (fields) {
		char fb[3072];
		va_list ap;
		va_start(ap, fields);
		vsnprintf(fb, sizeof(fb), fields, ap);
		va_end(ap);
		put_fields(&l, fb);
	}
	if (log_fmt == LOG_FMT_JSON)
		l.buf[l.len++] = '}';
	l.buf[l.len++] = '\n';
	(void)util_write_full(STDERR_FILENO, l.buf, l.len);
	errno = saved;
}
