/*
 * jvmsummary: a JVM's thread dump names every thread, its state and the
 * monitors it holds; hundreds of pool threads make it long. Grouping by
 * state and the first frame of the application's own code shows at once
 * where threads pile up (all BLOCKED in one method is the usual incident).
 */
#include "report/jvmsummary.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define NAMES_MAX 3

static bool platform_frame(const char *f)
{
	static const char *const pfx[] = {"java.", "javax.", "jdk.", "sun.", "com.sun."};
	for (size_t i = 0; i < ARRAY_LEN(pfx); i++)
		if (util_str_has_prefix(f, pfx[i]))
			return true;
	return false;
}

struct cur {
	char name[128], state[96], first[256], app[256];
	bool open;
};

static struct jvm_thread_group *find(struct jvm_threads *t, const char *state, const char *frame,
				     size_t *cap)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->g[i].state, state) && !strcmp(t->g[i].frame, frame))
			return &t->g[i];
	if (t->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		t->g = xrealloc(t->g, *cap * sizeof(*t->g));
	}
	struct jvm_thread_group *g = &t->g[t->n++];
	g->state = xstrdup(state);
	g->frame = xstrdup(frame);
	g->count = 0;
	g->names = xstrdup("");
	return g;
}

static void flush(struct jvm_threads *t, struct cur *c, size_t *cap)
{
	if (!c->open)
		return;
	const char *frame = c->app[0] ? c->app : c->first[0] ? c->first : "-";
	struct jvm_thread_group *g = find(t, c->state[0] ? c->state : "(VM thread)", frame, cap);
	if (g->count < NAMES_MAX) {
		char *n = xasprintf("%s%s%s", g->names, g->names[0] ? ", " : "", c->name);
		free(g->names);
		g->names = n;
	}
	g->count++;
	t->threads++;
	c->open = false;
}

static int by_count(const void *a, const void *b)
{
	const struct jvm_thread_group *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	int s = strcmp(x->state, y->state);
	return s ? s : strcmp(x->frame, y->frame);
}

static bool starts(const char *p, const char *e, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(e - p) >= n && memcmp(p, s, n) == 0;
}

/* Copies [p, e) trimmed into dst. */
static void copy(char *dst, size_t cap, const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\r'))
		e--;
	size_t n = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

int jvmsummary_parse(const char *buf, size_t len, struct jvm_threads *out)
{
	struct cur c = {.open = false};
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	for (const char *p = buf, *end = buf + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		static const char st[] = "java.lang.Thread.State:";
		const char *q = p;
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
		if (starts(p, le, "Found one Java-level deadlock")) {
			out->deadlock = true;
			break; /* what follows repeats threads already counted */
		}
		if (p < le && *p == '"') {
			flush(out, &c, &cap);
			const char *ne = memchr(p + 1, '"', (size_t)(le - p - 1));
			copy(c.name, sizeof(c.name), p + 1, ne ? ne : le);
			c.state[0] = c.first[0] = c.app[0] = '\0';
			c.open = true;
		} else if (c.open && starts(q, le, st)) {
			copy(c.state, sizeof(c.state), q + sizeof(st) - 1, le);
		} else if (c.open && starts(q, le, "at ")) {
			/* "at pkg.Class.method(module/File.java:12)": the method is the key */
			const char *fe = memchr(q, '(', (size_t)(le - q));
			char f[256];
			copy(f, sizeof(f), q + 3, fe ? fe : le);
			if (!c.first[0])
				snprintf(c.first, sizeof(c.first), "%s", f);
			if (!c.app[0] && !platform_frame(f))
				snprintf(c.app, sizeof(c.app), "%s", f);
		}
		p = le + 1;
	}
	flush(out, &c, &cap);
	if (!out->threads) {
		jvmsummary_free(out);
		return -EINVAL;
	}
	qsort(out->g, out->n, sizeof(*out->g), by_count);
	return 0;
}

void jvmsummary_free(struct jvm_threads *t)
{
	for (size_t i = 0; t && i < t->n; i++) {
		free(t->g[i].state);
		free(t->g[i].frame);
		free(t->g[i].names);
	}
	if (t) {
		free(t->g);
		memset(t, 0, sizeof(*t));
	}
}

int jvmsummary_print(const char *path, FILE *out, size_t max)
{
	char *buf = NULL;
	size_t len = 0;
	struct jvm_threads t;
	int rc = util_read_file(path, &buf, &len, (size_t)64 << 20);
	if (rc < 0)
		return rc;
	rc = jvmsummary_parse(buf, len, &t);
	free(buf);
	if (rc < 0)
		return rc;
	if (t.deadlock)
		fprintf(out, "  Java-level deadlock found: see the end of threads.txt\n");
	for (size_t i = 0; i < t.n && i < max; i++)
		fprintf(out, "  %4zu  %-30s %s  [%s%s]\n", t.g[i].count, t.g[i].state, t.g[i].frame,
			t.g[i].names, t.g[i].count > NAMES_MAX ? ", ..." : "");
	fprintf(out, "  (%zu threads in %zu groups)\n", t.threads, t.n);
	jvmsummary_free(&t);
	return 0;
}
