/*
 * goparse: pure parsers for Go runtime endpoints: a bounded, allocation-free
 * JSON scanner for expvar's /debug/vars, the GC pause ring, and a streaming
 * counter for the Prometheus text format. No I/O.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/goparse.h"
#include "lib/util.h"

/* ---- a bounded JSON scanner over expvar output ---- */

struct js {
	const char *p, *end;
};

#define JS_MAX_DEPTH 64

static void js_ws(struct js *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool js_eat(struct js *s, char c)
{
	js_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* A string's raw (still escaped) contents. */
static int js_string(struct js *s, const char **str, size_t *len)
{
	if (!js_eat(s, '"'))
		return -EINVAL;
	const char *start = s->p;
	while (s->p < s->end && *s->p != '"') {
		if (*s->p == '\\' && ++s->p >= s->end)
			return -EINVAL;
		s->p++;
	}
	if (s->p >= s->end)
		return -EINVAL;
	*str = start;
	*len = (size_t)(s->p - start);
	s->p++;
	return 0;
}

static int js_number(struct js *s, double *d, uint64_t *u, bool *is_int)
{
	char tmp[64];
	size_t n = 0;
	js_ws(s);
	while (s->p + n < s->end && strchr("+-0123456789.eE", s->p[n]) && s->p[n])
		n++;
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s->p, n);
	tmp[n] = '\0';
	char *e;
	*is_int = strspn(tmp, "0123456789") == n;
	if (*is_int) {
		errno = 0;
		*u = strtoull(tmp, &e, 10);
		if (errno)
			return -EINVAL;
		*d = (double)*u;
	} else {
		*d = strtod(tmp, &e);
		if (*e)
			return -EINVAL;
		*u = *d > 0 ? (uint64_t)*d : 0;
	}
	s->p += n;
	return 0;
}

static int js_skip(struct js *s, int depth)
{
	const char *str;
	size_t len;
	double d;
	uint64_t u;
	bool isint;

	if (depth > JS_MAX_DEPTH)
		return -EINVAL;
	js_ws(s);
	if (s->p >= s->end)
		return -EINVAL;
	char c = *s->p;
	if (c == '"')
		return js_string(s, &str, &len);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		s->p++;
		if (js_eat(s, close))
			return 0;
		do {
			if (c == '{' && (js_string(s, &str, &len) < 0 || !js_eat(s, ':')))
				return -EINVAL;
			if (js_skip(s, depth + 1) < 0)
				return -EINVAL;
		} while (js_eat(s, ','));
		return js_eat(s, close) ? 0 : -EINVAL;
	}
	static const char *const words[] = { "true", "false", "null" };
	for (size_t i = 0; i < ARRAY_LEN(words); i++) {
		size_t wl = strlen(words[i]);
		if ((size_t)(s->end - s->p) >= wl && memcmp(s->p, words[i], wl) == 0) {
			s->p += wl;
			return 0;
		}
	}
	return js_number(s, &d, &u, &isint);
}

/* Reads an array of up to 256 unsigned integers (PauseNs, PauseEnd). */
static int js_ring(struct js *s, uint64_t *ring)
{
	double d;
	bool isint;
	size_t i = 0;
	if (!js_eat(s, '['))
		return -EINVAL;
	if (js_eat(s, ']'))
		return 0;
	do {
		uint64_t u;
		if (js_number(s, &d, &u, &isint) < 0 || i >= 256)
			return -EINVAL;
		ring[i++] = u;
	} while (js_eat(s, ','));
	return js_eat(s, ']') ? 0 : -EINVAL;
}

static bool key_is(const char *k, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(k, want, n) == 0;
}

static int parse_memstats(struct js *s, struct go_memstats *m)
{
	static const struct {
		const char *key;
		uint32_t bit;
		size_t off;
	} ints[] = {
		{ "HeapInuse", GO_MS_HEAP_INUSE, offsetof(struct go_memstats, heap_inuse) },
		{ "HeapAlloc", GO_MS_HEAP_ALLOC, offsetof(struct go_memstats, heap_alloc) },
		{ "HeapReleased", GO_MS_HEAP_RELEASED, offsetof(struct go_memstats, heap_released) },
		{ "NumGC", GO_MS_NUM_GC, offsetof(struct go_memstats, num_gc) },
		{ "LastGC", 0, offsetof(struct go_memstats, last_gc) },
		{ "NextGC", GO_MS_NEXT_GC, offsetof(struct go_memstats, next_gc) },
	};
	const char *k;
	size_t kl;
	uint32_t rings = 0;
	if (!js_eat(s, '{'))
		return -EINVAL;
	if (js_eat(s, '}'))
		return 0;
	do {
		if (js_string(s, &k, &kl) < 0 || !js_eat(s, ':'))
			return -EINVAL;
		bool done = false;
		for (size_t i = 0; i < ARRAY_LEN(ints) && !done; i++) {
			if (!key_is(k, kl, ints[i].key))
				continue;
			double d;
			bool isint;
			uint64_t *dst = (uint64_t *)(void *)((char *)m + ints[i].off);
			if (js_number(s, &d, dst, &isint) < 0)
				return -EINVAL;
			m->have |= ints[i].bit;
			done = true;
		}
		if (done)
			continue;
		if (key_is(k, kl, "GCCPUFraction")) {
			uint64_t u;
			bool isint;
			if (js_number(s, &m->gc_cpu_fraction, &u, &isint) < 0)
				return -EINVAL;
			m->have |= GO_MS_GC_CPU;
		} else if (key_is(k, kl, "PauseNs") || key_is(k, kl, "PauseEnd")) {
			bool ns = k[5] == 'N';
			if (js_ring(s, ns ? m->pause_ns : m->pause_end) < 0)
				return -EINVAL;
			rings |= ns ? 1 : 2;
		} else if (js_skip(s, 2) < 0) {
			return -EINVAL;
		}
	} while (js_eat(s, ','));
	if (rings == 3)
		m->have |= GO_MS_PAUSE;
	return js_eat(s, '}') ? 0 : -EINVAL;
}


int gometrics_parse_vars(const char *buf, size_t len, struct go_memstats *out, char *err,
			 size_t errlen)
{
	struct js s = { buf, buf + len };
	const char *k;
	size_t kl;
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (!js_eat(&s, '{'))
		return util_err(err, errlen, -EINVAL, "not a JSON object");
	if (!js_eat(&s, '}')) {
		do {
			if (js_string(&s, &k, &kl) < 0 || !js_eat(&s, ':'))
				return util_err(err, errlen, -EINVAL, "malformed JSON near byte %zu",
					    (size_t)(s.p - buf));
			int rc;
			if (key_is(k, kl, "memstats") && !found) {
				rc = parse_memstats(&s, out);
				found = true;
			} else {
				rc = js_skip(&s, 1);
			}
			if (rc < 0)
				return util_err(err, errlen, -EINVAL, "malformed JSON near byte %zu",
					    (size_t)(s.p - buf));
		} while (js_eat(&s, ','));
		if (!js_eat(&s, '}'))
			return util_err(err, errlen, -EINVAL, "malformed JSON near byte %zu",
				    (size_t)(s.p - buf));
	}
	if (!found)
		return util_err(err, errlen, -EINVAL, "no \"memstats\" in /debug/vars (expvar not imported?)");
	return 0;
}

double gometrics_gc_pause(const struct go_memstats *m, bool have_prev, uint64_t prev_num_gc,
			  uint64_t since_ns)
{
	uint64_t longest = 0;
	if (!(m->have & GO_MS_PAUSE) || m->num_gc == 0)
		return 0;
	/* GC number k (1-based) lives at index (k + 255) % 256. */
	uint64_t first = m->num_gc > 256 ? m->num_gc - 255 : 1;
	if (have_prev && prev_num_gc + 1 > first)
		first = prev_num_gc + 1;
	for (uint64_t k = first; k <= m->num_gc; k++) {
		size_t i = (size_t)((k + 255) % 256);
		if (!have_prev && m->pause_end[i] < since_ns)
			continue;
		if (m->pause_ns[i] > longest)
			longest = m->pause_ns[i];
	}
	return (double)longest / 1e9;
}

double gometrics_gc_cpu(struct gc_cpu_window *w, const struct go_memstats *m, uint64_t start_ns,
			uint64_t now_ns)
{
	double f = m->gc_cpu_fraction;
	if (!(m->have & GO_MS_GC_CPU) || m->num_gc == 0 || m->last_gc <= start_ns || start_ns == 0)
		return f;
	double work = f * (double)(m->last_gc - start_ns);
	if (!w->have_prev || m->last_gc != w->prev_at_ns) {
		if (w->have_prev) {
			w->ref_work_ns = w->prev_work_ns;
			w->ref_at_ns = w->prev_at_ns;
			w->have_ref = true;
		}
		w->prev_work_ns = work;
		w->prev_at_ns = m->last_gc;
		w->have_prev = true;
	}
	/* Before a second GC end, the process's start (no GC work yet) is the reference. */
	double ref_work = w->have_ref ? w->ref_work_ns : 0;
	uint64_t ref_at = w->have_ref ? w->ref_at_ns : start_ns;
	if (now_ns <= ref_at)
		return f;
	double v = (w->prev_work_ns - ref_work) / (double)(now_ns - ref_at);
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* ---- Prometheus text, streamed ---- */

enum { PS_START, PS_COMMENT, PS_NAME, PS_LABELS, PS_LVALUE, PS_LESC, PS_AFTER_NAME, PS_VALUE,
       PS_REST, PS_SKIP_BAD };

void prom_counter_init(struct prom_counter *c)
{
	memset(c, 0, sizeof(*c));
}

static void prom_end_sample(struct prom_counter *c)
{
	c->series++;
	if (c->nlen == 13 && memcmp(c->name, "go_goroutines", 13) == 0 && c->vlen < sizeof(c->val)) {
		char *e;
		c->val[c->vlen] = '\0';
		double v = strtod(c->val, &e);
		if (e != c->val && *e == '\0') {
			c->goroutines = v;
			c->have_goroutines = true;
		}
	}
}

void prom_counter_feed(struct prom_counter *c, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = buf[i];
		switch (c->state) {
		case PS_START:
			if (ch == '#')
				c->state = PS_COMMENT;
			else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
				c->state = PS_NAME;
				c->nlen = 0;
				c->vlen = 0;
				c->name[c->nlen++] = ch;
			}
			break;
		case PS_COMMENT:
			if (ch == '\n')
				c->state = PS_START;
			break;
		case PS_NAME:
			if (ch == '{') {
				c->state = PS_LABELS;
			} else if (ch == ' ' || ch == '\t') {
				c->state = PS_AFTER_NAME;
			} else if (ch == '\n') {
				c->bad_lines++;
				c->state = PS_START;
			} else if (c->nlen < sizeof(c->name)) {
				c->name[c->nlen++] = ch;
			} else {
				c->nlen = sizeof(c->name) + 1; /* too long: never matches */
			}
			break;
		case PS_LABELS:
			if (ch == '"')
				c->state = PS_LVALUE;
			else if (ch == '}')
				c->state = PS_AFTER_NAME;
			else if (ch == '\n') {
				c->bad_lines++;
				c->state = PS_START;
			}
			break;
		case PS_LVALUE:
			if (ch == '\\')
				c->state = PS_LESC;
			else if (ch == '"')
				c->state = PS_LABELS;
			else if (ch == '\n') {
				c->bad_lines++;
				c->state = PS_START;
			}
			break;
		case PS_LESC:
			c->state = PS_LVALUE;
			break;
		case PS_AFTER_NAME:
			if (ch == '\n') {
				c->bad_lines++;
				c->state = PS_START;
			} else if (ch != ' ' && ch != '\t') {
				c->state = PS_VALUE;
				c->val[0] = ch;
				c->vlen = 1;
			}
			break;
		case PS_VALUE:
			if (ch == '\n' || ch == ' ' || ch == '\t' || ch == '\r') {
				prom_end_sample(c);
				c->state = ch == '\n' ? PS_START : PS_REST;
			} else if (c->vlen < sizeof(c->val)) {
				c->val[c->vlen++] = ch;
			}
			break;
		case PS_REST:
			if (ch == '\n')
				c->state = PS_START;
			break;
		}
	}
}

void prom_counter_finish(struct prom_counter *c)
{
	if (c->state == PS_VALUE)
		prom_end_sample(c);
	else if (c->state != PS_START && c->state != PS_COMMENT && c->state != PS_REST)
		c->bad_lines++;
	c->state = PS_START;
}

double gometrics_heap_live(const struct go_memstats *m, int gogc)
{
	if (!(m->have & GO_MS_NEXT_GC) || gogc < 0 || m->num_gc == 0)
		return -1;
	return (double)m->next_gc * 100.0 / (100.0 + (double)gogc);
}
