/*
 * jvmhisto: the JVM counterpart of the Go heap diff. A class histogram of
 * live objects is what the JVM gives without a heap dump; comparing it with
 * the one taken while the service was healthy names the class that grows.
 */
#include "capture/jvm/jvmhisto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static const char *skip_sp(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static bool num(const char **pp, const char *e, int64_t *v)
{
	const char *p = skip_sp(*pp, e);
	int64_t x = 0;
	if (p >= e || *p < '0' || *p > '9')
		return false;
	while (p < e && *p >= '0' && *p <= '9') {
		if (x > (INT64_MAX - 9) / 10)
			return false;
		x = x * 10 + (*p++ - '0');
	}
	*pp = p;
	*v = x;
	return true;
}

/* "   12:   345   6789  name (module)"; the line is [p, e). */
static bool class_line(const char *p, const char *e, struct jvm_histo_class *c)
{
	int64_t idx;
	if (!num(&p, e, &idx) || p >= e || *p != ':')
		return false;
	p++;
	if (!num(&p, e, &c->instances) || !num(&p, e, &c->bytes))
		return false;
	p = skip_sp(p, e);
	const char *ne = p;
	while (ne < e && *ne != ' ' && *ne != '\r')
		ne++;
	if (ne == p)
		return false;
	c->name = xstrndup(p, (size_t)(ne - p));
	return true;
}

int jvm_histo_parse(const char *buf, size_t len, struct jvm_histo *out)
{
	size_t cap = 0;
	memset(out, 0, sizeof(*out));
	for (const char *p = buf, *end = buf + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct jvm_histo_class c;
		if (class_line(p, le, &c)) {
			if (out->n == cap) {
				cap = cap ? cap * 2 : 256;
				out->c = xrealloc(out->c, cap * sizeof(*out->c));
			}
			out->c[out->n++] = c;
			out->total_bytes += c.bytes;
			out->total_instances += c.instances;
		}
		p = le + 1;
	}
	return out->n ? 0 : -EINVAL;
}

void jvm_histo_free(struct jvm_histo *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		free(h->c[i].name);
	free(h->c);
	memset(h, 0, sizeof(*h));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct jvm_histo_growth *)a)->name, ((const struct jvm_histo_growth *)b)->name);
}

static int by_growth(const void *a, const void *b)
{
	const struct jvm_histo_growth *x = a, *y = b;
	int64_t gx = x->now_bytes - x->base_bytes, gy = y->now_bytes - y->base_bytes;
	if (gx != gy)
		return gx > gy ? -1 : 1;
	gx = x->now_instances - x->base_instances;
	gy = y->now_instances - y->base_instances;
	if (gx != gy)
		return gx > gy ? -1 : 1;
	return strcmp(x->name, y->name);
}

void jvm_histo_diff(const struct jvm_histo *base, const struct jvm_histo *now,
		    struct jvm_histo_growth **out, size_t *n)
{
	size_t m = base->n + now->n, k = 0;
	struct jvm_histo_growth *g = xcalloc(m ? m : 1, sizeof(*g));
	for (size_t i = 0; i < base->n; i++)
		g[k++] = (struct jvm_histo_growth){base->c[i].name, base->c[i].bytes, 0,
						   base->c[i].instances, 0};
	for (size_t i = 0; i < now->n; i++)
		g[k++] = (struct jvm_histo_growth){now->c[i].name, 0, now->c[i].bytes, 0,
						   now->c[i].instances};
	/* merge the two rows of a class present in both */
	qsort(g, k, sizeof(*g), by_name);
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		if (w && strcmp(g[w - 1].name, g[i].name) == 0) {
			g[w - 1].base_bytes += g[i].base_bytes;
			g[w - 1].now_bytes += g[i].now_bytes;
			g[w - 1].base_instances += g[i].base_instances;
			g[w - 1].now_instances += g[i].now_instances;
		} else {
			g[w++] = g[i];
		}
	}
	qsort(g, w, sizeof(*g), by_growth);
	*out = g;
	*n = w;
}

static void fmt_bytes(char *b, size_t len, int64_t v, bool sign)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double x = (double)(v < 0 ? -v : v);
	size_t i = 0;
	while (x >= 1024 && i + 1 < ARRAY_LEN(u)) {
		x /= 1024;
		i++;
	}
	const char *s = v < 0 ? "-" : sign ? "+" : "";
	if (i == 0)
		snprintf(b, len, "%s%.0f%s", s, x, u[i]);
	else
		snprintf(b, len, "%s%.1f%s", s, x, u[i]);
}

void jvm_histo_format_diff(const struct jvm_histo *base, const struct jvm_histo *now,
			   const char *base_when, const char *now_when, FILE *f, size_t max)
{
	struct jvm_histo_growth *g;
	size_t n;
	char b0[32], b1[32], d[32];

	jvm_histo_diff(base, now, &g, &n);
	fmt_bytes(b0, sizeof(b0), base->total_bytes, false);
	fmt_bytes(b1, sizeof(b1), now->total_bytes, false);
	fmt_bytes(d, sizeof(d), now->total_bytes - base->total_bytes, true);
	fprintf(f, "# hound heap diff: live JVM heap growth since the baseline, by class\n");
	fprintf(f, "# baseline heap.base.histo.txt taken %s; current heap.histo.txt taken %s\n",
		base_when, now_when);
	fprintf(f, "# live bytes %s -> %s (%s); instances %lld -> %lld (%+lld)\n", b0, b1, d,
		(long long)base->total_instances, (long long)now->total_instances,
		(long long)(now->total_instances - base->total_instances));
	fprintf(f, "#       growth     growth_bytes  growth_objs          now         base  class\n");
	for (size_t i = 0, shown = 0; i < n && shown < max; i++) {
		int64_t db = g[i].now_bytes - g[i].base_bytes;
		int64_t di = g[i].now_instances - g[i].base_instances;
		char gb[32], nb[32], bb[32];
		if (db == 0 && di == 0)
			continue;
		fmt_bytes(gb, sizeof(gb), db, true);
		fmt_bytes(nb, sizeof(nb), g[i].now_bytes, false);
		fmt_bytes(bb, sizeof(bb), g[i].base_bytes, false);
		fprintf(f, "%14s %+16lld %+12lld %12s %12s  %s\n", gb, (long long)db, (long long)di, nb,
			bb, g[i].name);
		shown++;
	}
	free(g);
}
