/*
 * heapdiff: charges every heap sample of two profiles to functions and
 * reports the growth of inuse_space/inuse_objects, largest first.
 *
 * A leaking map shows up in runtime.mapassign and a leaking slice in
 * runtime.makeslice; go tool pprof -top names those. The flat view here
 * walks up to the innermost frame that belongs to the application, which
 * is the line an engineer wants first.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "lib/heapdiff.h"
#include "lib/util.h"

struct table {
	struct heapdiff_entry *e;
	size_t n, cap;       /* entries */
	uint32_t *slots;     /* open addressing: entry index + 1, 0 = empty */
	size_t nslots;
	size_t *stamp;       /* last sample that touched an entry (cum dedupe) */
	double *var[2];      /* sampling variance of an entry's bytes, base and now */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
	return h;
}

static void table_init(struct table *t, size_t hint)
{
	memset(t, 0, sizeof(*t));
	t->nslots = 64;
	while (t->nslots < hint * 2)
		t->nslots *= 2;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	t->cap = hint ? hint : 1;
	t->e = xcalloc(t->cap, sizeof(*t->e));
	t->stamp = xcalloc(t->cap, sizeof(*t->stamp));
	for (int k = 0; k < 2; k++)
		t->var[k] = xcalloc(t->cap, sizeof(*t->var[k]));
}

static void table_fini_index(struct table *t)
{
	free(t->slots);
	free(t->stamp);
	free(t->var[0]);
	free(t->var[1]);
}

/* Entry for name, or -1. */
static ssize_t table_find(const struct table *t, const char *name)
{
	size_t i = hash_str(name) & (t->nslots - 1);
	while (t->slots[i]) {
		size_t k = t->slots[i] - 1;
		if (strcmp(t->e[k].func, name) == 0)
			return (ssize_t)k;
		i = (i + 1) & (t->nslots - 1);
	}
	return -1;
}

/* Entry for name, created on first use. The table never holds more than hint names. */
static size_t table_get(struct table *t, const char *name)
{
	size_t i = hash_str(name) & (t->nslots - 1);
	while (t->slots[i]) {
		size_t k = t->slots[i] - 1;
		if (strcmp(t->e[k].func, name) == 0)
			return k;
		i = (i + 1) & (t->nslots - 1);
	}
	if (t->n == t->cap) { /* cannot happen with a correct hint; stay safe anyway */
		size_t ncap = t->cap * 2;
		t->e = xrealloc(t->e, ncap * sizeof(*t->e));
		t->stamp = xrealloc(t->stamp, ncap * sizeof(*t->stamp));
		memset(t->e + t->cap, 0, (ncap - t->cap) * sizeof(*t->e));
		memset(t->stamp + t->cap, 0, (ncap - t->cap) * sizeof(*t->stamp));
		for (int k = 0; k < 2; k++) {
			t->var[k] = xrealloc(t->var[k], ncap * sizeof(*t->var[k]));
			memset(t->var[k] + t->cap, 0, (ncap - t->cap) * sizeof(*t->var[k]));
		}
		t->cap = ncap;
	}
	t->e[t->n].func = xstrdup(name);
	t->slots[i] = (uint32_t)(t->n + 1);
	return t->n++;
}

int heapdiff_frame_class(const char *func)
{
	if (util_str_has_prefix(func, "runtime.") || util_str_has_prefix(func, "runtime/") ||
	    util_str_has_prefix(func, "internal/"))
		return 0;
	if (util_str_has_prefix(func, "main."))
		return 2;
	/*
	 * Standard library import paths have no dot in their first element
	 * ("net/http.(*conn).serve", "bytes.growSlice"); modules do
	 * ("github.com/x/y.F"). Names without a package are treated as ours.
	 */
	size_t slash = strcspn(func, "/");
	if (func[slash] == '/')
		return memchr(func, '.', slash) ? 2 : 1;
	return strchr(func, '.') ? 1 : 2;
}

static const char *line_name(const struct pprof_profile *p, const struct pprof_line *l)
{
	return p->functions[l->func].name;
}

static const char *flat_key(const struct pprof_profile *p, const struct pprof_sample *s)
{
	const char *best = NULL;
	int best_class = -1;
	for (size_t i = 0; i < s->nlocs; i++) {
		const struct pprof_location *loc = &p->locations[s->locs[i]];
		for (size_t j = 0; j < loc->nlines; j++) {
			const char *name = line_name(p, &loc->lines[j]);
			int c = heapdiff_frame_class(name);
			if (c == 2)
				return name;
			if (c > best_class) {
				best = name;
				best_class = c;
			}
		}
	}
	return best ? best : "(unknown)";
}

/*
 * Go samples one allocation per period bytes on average (Poisson) and scales
 * each sample up by 1/(1 - exp(-size/period)), so a stack's bytes are an
 * estimate: bytes from objects of size s (the sample's average) have a
 * variance of bytes * s * (1 - p) / p, with p = 1 - exp(-s/period) the
 * chance an object was sampled. Small objects are noisy (one sampled 8 KiB
 * buffer stands for 512 KiB); objects over the period are exact.
 */
static double sample_var(int64_t bytes, int64_t objs, int64_t period)
{
	if (period <= 0 || bytes <= 0 || objs <= 0)
		return 0;
	double s = (double)bytes / (double)objs, p = -expm1(-s / (double)period);
	return p > 0 ? (double)bytes * s * (1 - p) / p : 0;
}

/* Adds one profile's samples to both tables; side 0 is base, 1 is now. */
static void charge(struct table *flat, struct table *cum, const struct pprof_profile *p,
		   int ispace, int iobj, int side, size_t *serial, int64_t *bytes, int64_t *objs)
{
	int64_t period = p->period_type.unit && strcmp(p->period_type.unit, "bytes") == 0 ?
				 p->period : 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		int64_t b = s->values[ispace], o = s->values[iobj];
		if (!b && !o)
			continue;
		*bytes += b;
		*objs += o;
		size_t fi = table_get(flat, flat_key(p, s));
		struct heapdiff_entry *e = &flat->e[fi];
		flat->var[side][fi] += sample_var(b, o, period);
		if (side) {
			e->now_bytes += b;
			e->now_objects += o;
		} else {
			e->base_bytes += b;
			e->base_objects += o;
		}
		++*serial;
		for (size_t k = 0; cum && k < s->nlocs; k++) {
			const struct pprof_location *loc = &p->locations[s->locs[k]];
			for (size_t j = 0; j < loc->nlines; j++) {
				size_t x = table_get(cum, line_name(p, &loc->lines[j]));
				if (cum->stamp[x] == *serial)
					continue; /* recursion: count a function once per sample */
				cum->stamp[x] = *serial;
				e = &cum->e[x];
				if (side) {
					e->now_bytes += b;
					e->now_objects += o;
				} else {
					e->base_bytes += b;
					e->base_objects += o;
				}
			}
		}
	}
}

static int cmp_growth(const void *a, const void *b)
{
	const struct heapdiff_entry *x = a, *y = b;
	int64_t gx = x->now_bytes - x->base_bytes, gy = y->now_bytes - y->base_bytes;
	if (gx != gy)
		return gx > gy ? -1 : 1;
	return strcmp(x->func, y->func);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * The sampling noise (one standard deviation, bytes) of the in-use growth.
 * Only objects that differ between the two profiles make noise: a sampled
 * long-lived object is in both. Per function, the bytes allocated between
 * the profiles (alloc_space growth) bound what is new in the current
 * profile; what the baseline held beyond what survived was freed. A steady
 * churn of garbage is all new and all freed, so its noise counts in full; a
 * large heap that holds still adds none.
 */
static int64_t inuse_noise(const struct table *flat, const struct table *alloc)
{
	double v = 0;
	for (size_t i = 0; i < flat->n; i++) {
		const struct heapdiff_entry *e = &flat->e[i];
		ssize_t k = table_find(alloc, e->func);
		int64_t nb = k < 0 ? 0 : alloc->e[k].now_bytes - alloc->e[k].base_bytes;
		if (nb < 0)
			nb = 0; /* the process restarted between the profiles */
		if (nb > e->now_bytes)
			nb = e->now_bytes;
		int64_t survived = e->now_bytes - nb;
		int64_t freed = e->base_bytes > survived ? e->base_bytes - survived : 0;
		if (e->now_bytes > 0)
			v += flat->var[1][i] * (double)nb / (double)e->now_bytes;
		if (e->base_bytes > 0)
			v += flat->var[0][i] * (double)freed / (double)e->base_bytes;
	}
	return (int64_t)sqrt(v);
}

int heapdiff_compute(const struct pprof_profile *base, const struct pprof_profile *now,
		     struct heapdiff **out, char *err, size_t errlen)
{
	const struct pprof_profile *ps[2] = { base, now };
	int isp[2], iob[2];
	*out = NULL;
	for (int k = 0; k < 2; k++) {
		isp[k] = pprof_sample_index(ps[k], "inuse_space");
		iob[k] = pprof_sample_index(ps[k], "inuse_objects");
		if (isp[k] < 0 || iob[k] < 0)
			return fail(err, errlen, "%s profile has no inuse_space/inuse_objects samples",
				    k ? "current" : "baseline");
	}
	struct table flat, cum;
	size_t hint = base->nfunctions + now->nfunctions + 1, serial = 0;
	table_init(&flat, hint);
	table_init(&cum, hint);
	struct heapdiff *d = xcalloc(1, sizeof(*d));
	charge(&flat, &cum, base, isp[0], iob[0], 0, &serial, &d->base_bytes, &d->base_objects);
	charge(&flat, &cum, now, isp[1], iob[1], 1, &serial, &d->now_bytes, &d->now_objects);
	/* what was allocated between the two, freed or not: names a burst the GC already took */
	int ias[2] = {pprof_sample_index(base, "alloc_space"), pprof_sample_index(now, "alloc_space")};
	int iao[2] = {pprof_sample_index(base, "alloc_objects"),
		      pprof_sample_index(now, "alloc_objects")};
	if (ias[0] >= 0 && ias[1] >= 0 && iao[0] >= 0 && iao[1] >= 0) {
		struct table alloc;
		int64_t ab = 0, ao = 0;
		table_init(&alloc, hint);
		charge(&alloc, NULL, base, ias[0], iao[0], 0, &serial, &ab, &ao);
		charge(&alloc, NULL, now, ias[1], iao[1], 1, &serial, &ab, &ao);
		d->inuse_noise = inuse_noise(&flat, &alloc); /* before sorting: uses the index */
		qsort(alloc.e, alloc.n, sizeof(*alloc.e), cmp_growth);
		d->alloc = alloc.e;
		d->nalloc = alloc.n;
		table_fini_index(&alloc);
	}
	qsort(flat.e, flat.n, sizeof(*flat.e), cmp_growth);
	qsort(cum.e, cum.n, sizeof(*cum.e), cmp_growth);
	d->flat = flat.e;
	d->nflat = flat.n;
	d->cum = cum.e;
	d->ncum = cum.n;
	d->base_time_ns = base->time_nanos;
	d->now_time_ns = now->time_nanos;
	table_fini_index(&flat);
	table_fini_index(&cum);
	*out = d;
	return 0;
}

void heapdiff_free(struct heapdiff *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nflat; i++)
		free(d->flat[i].func);
	for (size_t i = 0; i < d->ncum; i++)
		free(d->cum[i].func);
	for (size_t i = 0; i < d->nalloc; i++)
		free(d->alloc[i].func);
	free(d->alloc);
	free(d->flat);
	free(d->cum);
	free(d);
}

/* "+47.0MiB", "-512B" */
static void fmt_bytes(char *buf, size_t len, int64_t v, bool sign)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double x = v < 0 ? -(double)v : (double)v;
	size_t u = 0;
	while (x >= 1024 && u + 1 < ARRAY_LEN(units)) {
		x /= 1024;
		u++;
	}
	const char *s = v < 0 ? "-" : sign ? "+" : "";
	if (u == 0)
		snprintf(buf, len, "%s%.0f%s", s, x, units[u]);
	else
		snprintf(buf, len, "%s%.1f%s", s, x, units[u]);
}

static void format_view(FILE *f, const struct heapdiff_entry *e, size_t n, size_t max)
{
	char g[32], nb[32], bb[32];
	fprintf(f, "#       growth     growth_bytes  growth_objs          now         base  function\n");
	for (size_t i = 0; i < n && i < max; i++) {
		int64_t db = e[i].now_bytes - e[i].base_bytes;
		int64_t dob = e[i].now_objects - e[i].base_objects;
		if (db == 0 && dob == 0)
			continue;
		fmt_bytes(g, sizeof(g), db, true);
		fmt_bytes(nb, sizeof(nb), e[i].now_bytes, false);
		fmt_bytes(bb, sizeof(bb), e[i].base_bytes, false);
		fprintf(f, "%14s %+16lld %+12lld %12s %12s  %s\n", g, (long long)db, (long long)dob,
			nb, bb, e[i].func);
	}
}

bool heapdiff_grew(const struct heapdiff *d)
{
	int64_t g = d->now_bytes - d->base_bytes, floor = d->base_bytes / 20;
	if (floor < (1 << 20))
		floor = 1 << 20;
	/* three standard deviations: sampling alone gets there about once in 700 diffs */
	if (floor < 3 * d->inuse_noise)
		floor = 3 * d->inuse_noise;
	return g >= floor;
}

void heapdiff_format(const struct heapdiff *d, FILE *f, size_t n)
{
	char b0[32], b1[32], g[32], t0[40] = "unknown", t1[40] = "unknown";
	fmt_bytes(b0, sizeof(b0), d->base_bytes, false);
	fmt_bytes(b1, sizeof(b1), d->now_bytes, false);
	fmt_bytes(g, sizeof(g), d->now_bytes - d->base_bytes, true);
	if (d->base_time_ns)
		util_fmt_time(d->base_time_ns / 1000000, t0, sizeof(t0));
	if (d->now_time_ns)
		util_fmt_time(d->now_time_ns / 1000000, t1, sizeof(t1));
	fprintf(f, "# hound heap diff: in-use heap growth since the baseline, by function\n");
	fprintf(f, "# baseline heap.base.pb.gz taken %s; current heap.pb.gz taken %s\n", t0, t1);
	fprintf(f, "# inuse_space %s -> %s (%s); inuse_objects %lld -> %lld (%+lld)\n", b0, b1, g,
		(long long)d->base_objects, (long long)d->now_objects,
		(long long)(d->now_objects - d->base_objects));
	if (d->inuse_noise > 0) {
		fmt_bytes(g, sizeof(g), d->inuse_noise, false);
		fprintf(f, "# sampling noise of that growth: %s (one standard deviation, from the\n", g);
		fprintf(f, "# objects allocated or freed in between)\n");
	}
	if (!heapdiff_grew(d) && d->nalloc > 0) {
		fprintf(f, "# in-use heap did not grow: the code that allocated most between the two\n");
		fprintf(f, "# profiles (alloc_space, freed or not), charged to its innermost application frame\n");
		format_view(f, d->alloc, d->nalloc, n);
		fprintf(f, "#\n");
	}
	fprintf(f, "# flat: each allocation charged to its innermost application frame\n");
	fprintf(f, "#       (outside the Go runtime and standard library)\n");
	format_view(f, d->flat, d->nflat, n);
	fprintf(f, "#\n# cum: charged to every function on the allocating stack\n");
	format_view(f, d->cum, d->ncum, n);
}

int heapdiff_write(const char *base_path, const char *now_path, const char *out_path,
		   char *err, size_t errlen)
{
	struct pprof_profile *base = NULL, *now = NULL;
	struct heapdiff *d = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc = pprof_decode_file(base_path, 0, &base, err, errlen);
	if (rc < 0)
		goto out;
	rc = pprof_decode_file(now_path, 0, &now, err, errlen);
	if (rc < 0)
		goto out;
	rc = heapdiff_compute(base, now, &d, err, errlen);
	if (rc < 0)
		goto out;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		goto out;
	}
	heapdiff_format(d, f, 25);
	fclose(f);
	rc = util_write_file_atomic(out_path, text, len);
	if (rc < 0)
		snprintf(err, errlen, "write %s: %s", out_path, strerror(-rc));
out:
	free(text);
	heapdiff_free(d);
	pprof_free(base);
	pprof_free(now);
	return rc;
}

int heapdiff_print_top(const char *diff_path, FILE *out, int n)
{
	FILE *f = fopen(diff_path, "r");
	if (!f)
		return -errno;
	char line[1024];
	int shown = 0;
	bool in_data = false;
	while (fgets(line, sizeof(line), f)) {
		bool comment = line[0] == '#';
		if (comment && in_data)
			break; /* end of the flat view */
		if (!comment) {
			in_data = true;
			if (shown++ >= n)
				break;
		}
		fputs(line, out);
	}
	fclose(f);
	return 0;
}
