/* log: structured log lines (logfmt or JSON) on stderr. */
#include "lib/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

/* Appends what fits of s to buf (room bytes usable), truncating silently. */
static void append(char *buf, size_t room, size_t *len, const char *s, size_t n)
{
	if (n > room - *len)
		n = room - *len;
	memcpy(buf + *len, s, n);
	*len += n;
}

static void put(struct line *l, const char *s, size_t n)
{
	append(l->buf, sizeof(l->buf) - 2, &l->len, s, n); /* room for '}' and '\n' */
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

/*
 * Field formatting. The keys come from the format literal (checked by the
 * compiler at every call site), the values from the arguments. Each value is
 * formatted on its own and escaped, and the formatted text is never split
 * again: a value such as "x level=error msg=injected" stays one value, quoted.
 */

static bool is_key_char(char c)
{
	return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_' || c == '.';
}

/* Length of the "key" in "key=..." at f, or 0 when f does not start a key. */
static size_t key_len(const char *f)
{
	size_t n = 0;
	while (is_key_char(f[n]))
		n++;
	return n && f[n] == '=' ? n : 0;
}

/* The next " key=" boundary in the format, or the end of it. */
static const char *next_key(const char *f)
{
	for (const char *p = f; *p; p++) {
		if (*p == '%' && p[1]) {
			p++; /* "%%" and conversions never start a key */
			continue;
		}
		if (*p == ' ' && key_len(p + 1))
			return p;
	}
	return f + strlen(f);
}

struct vbuf {
	char buf[2048];
	size_t len;
};

static void vput(struct vbuf *v, const char *s, size_t n)
{
	append(v->buf, sizeof(v->buf) - 1, &v->len, s, n);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/*
 * Formats one conversion of the format (at *fp, just past '%') into v,
 * taking its argument from ap; advances *fp. spec is rebuilt from the parsed
 * parts only, so the non-literal snprintf below sees one known conversion.
 */
static void put_conv(struct vbuf *v, const char **fp, va_list *ap, int saved_errno)
{
	const char *f = *fp;
	char spec[48] = "%", out[512];
	size_t sn = 1;
	int n = 0;

	while (*f && strchr("-+ #0", *f) && sn < 8)
		spec[sn++] = *f++;
	if (*f == '*') {
		f++;
		sn += (size_t)snprintf(spec + sn, sizeof(spec) - sn, "%d", va_arg(*ap, int));
	} else {
		while (isdigit((unsigned char)*f) && sn < 20)
			spec[sn++] = *f++;
	}
	if (*f == '.') {
		f++;
		int prec = 0;
		if (*f == '*') {
			f++;
			prec = va_arg(*ap, int);
		} else {
			while (isdigit((unsigned char)*f))
				prec = prec * 10 + (*f++ - '0');
		}
		if (prec >= 0)
			sn += (size_t)snprintf(spec + sn, sizeof(spec) - sn, ".%d", prec);
	}
	int lng = 0; /* 1 l, 2 ll, 3 z, 4 j, 5 t, 6 L, -1 h, -2 hh */
	for (;; f++) {
		if (*f == 'l')
			lng = lng == 1 ? 2 : 1;
		else if (*f == 'h')
			lng = lng == -1 ? -2 : -1;
		else if (*f == 'z')
			lng = 3;
		else if (*f == 'j')
			lng = 4;
		else if (*f == 't')
			lng = 5;
		else if (*f == 'L')
			lng = 6;
		else
			break;
	}
	char conv = *f ? *f++ : '\0';
	*fp = f;
	static const char *const lmod[] = {"hh", "h", "", "l", "ll", "z", "j", "t", "L"};
	sn += (size_t)snprintf(spec + sn, sizeof(spec) - sn, "%s%c", lmod[lng + 2], conv);

	switch (conv) {
	case 'd':
	case 'i':
		if (lng == 2)
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, long long));
		else if (lng == 1)
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, long));
		else if (lng == 3 || lng == 5)
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, ptrdiff_t));
		else if (lng == 4)
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, intmax_t));
		else
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, int));
		break;
	case 'u':
	case 'o':
	case 'x':
	case 'X':
		if (lng == 2)
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, unsigned long long));
		else if (lng == 1)
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, unsigned long));
		else if (lng == 3 || lng == 5)
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, size_t));
		else if (lng == 4)
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, uintmax_t));
		else
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, unsigned));
		break;
	case 'c':
		n = snprintf(out, sizeof(out), spec, va_arg(*ap, int));
		break;
	case 'p':
		n = snprintf(out, sizeof(out), spec, va_arg(*ap, void *));
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
	case 'a':
	case 'A':
		if (lng == 6)
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, long double));
		else
			n = snprintf(out, sizeof(out), spec, va_arg(*ap, double));
		break;
	case 's': {
		/* Strings go in directly: they may be longer than out. */
		const char *s = va_arg(*ap, const char *);
		if (!s)
			s = "(null)";
		if (!strcmp(spec, "%s")) {
			vput(v, s, strlen(s));
			return;
		}
		n = snprintf(out, sizeof(out), spec, s);
		break;
	}
	case 'm':
		n = snprintf(out, sizeof(out), "%s", strerror(saved_errno));
		break;
	default: /* "%%", or a conversion this logger does not take (%n) */
		if (conv == '%')
			vput(v, "%", 1);
		return;
	}
	if (n > 0)
		vput(v, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
}
#pragma GCC diagnostic pop

/* Formats the format span [f, end) into v, consuming its arguments. */
static void format_span(struct vbuf *v, const char *f, const char *end, va_list *ap,
			int saved_errno)
{
	v->len = 0;
	while (f < end) {
		const char *pct = memchr(f, '%', (size_t)(end - f));
		if (!pct) {
			vput(v, f, (size_t)(end - f));
			return;
		}
		vput(v, f, (size_t)(pct - f));
		f = pct + 1;
		put_conv(v, &f, ap, saved_errno);
	}
}

static void put_fields(struct line *l, const char *f, va_list *ap, int saved_errno)
{
	struct vbuf v;
	while (*f == ' ')
		f++;
	while (*f) {
		size_t kn = key_len(f);
		const char *key = kn ? f : "detail";
		const char *vs = kn ? f + kn + 1 : f;
		const char *end = next_key(vs);
		format_span(&v, vs, end, ap, saved_errno);
		put_pair(l, key, kn ? kn : 6, v.buf, v.len);
		f = *end ? end + 1 : end;
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
		va_list ap;
		va_start(ap, fields);
		put_fields(&l, fields, &ap, saved);
		va_end(ap);
	}
	if (log_fmt == LOG_FMT_JSON)
		l.buf[l.len++] = '}';
	l.buf[l.len++] = '\n';
	(void)util_write_full(STDERR_FILENO, l.buf, l.len);
	errno = saved;
}
