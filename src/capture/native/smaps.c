/* smaps: a pure parser of /proc/PID/smaps, totals per mapping name, and growth between two
 * snapshots. */
#include "capture/native/smaps.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metric.h"
#include "lib/util.h"

/* Longest line kept; longer ones (absurd paths) are cut, not rejected. */
#define LINE_MAX_LEN 4352

/* One mapping while parsing; folded by name afterwards. */
struct raw_map {
	char *name;
	uint64_t size_kb, rss_kb, anon_kb, swap_kb;
};

static bool is_hex(char c)
{
	return isxdigit((unsigned char)c) != 0;
}

/*
 * A header is "START-END PERMS OFFSET DEV INODE [NAME]". Returns true and sets
 * *name to the start of NAME (or the end of the line) when line is one.
 */
static bool parse_header(const char *line, const char **name)
{
	const char *p = line;
	int field;

	if (!is_hex(*p))
		return false;
	while (is_hex(*p))
		p++;
	if (*p++ != '-' || !is_hex(*p))
		return false;
	while (is_hex(*p))
		p++;
	/* perms, offset, dev, inode */
	for (field = 0; field < 4; field++) {
		if (*p != ' ')
			return false;
		while (*p == ' ')
			p++;
		if (!*p)
			return false;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	*name = p;
	return true;
}

/* The name a mapping is filed under. */
static char *map_name(const char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n == 0)
		return xstrdup("[anon]");
	if (util_str_has_prefix(s, "[stack:"))
		return xstrdup("[stack]");
	return xstrndup(s, n);
}

/* "Key:   123 kB": returns true with *key_len and *kb set for a field line. */
static bool parse_field(const char *line, size_t *key_len, uint64_t *kb)
{
	const char *colon = strchr(line, ':');
	const char *p;
	char *end;

	if (!colon || colon == line)
		return false;
	for (p = line; p < colon; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	*key_len = (size_t)(colon - line);
	p = colon + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!isdigit((unsigned char)*p)) {
		*kb = 0;
		return true; /* VmFlags and friends: a field, but not a size */
	}
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	*kb = errno == ERANGE ? UINT64_MAX : v;
	return true;
}

static bool key_is(const char *line, size_t len, const char *key)
{
	return strlen(key) == len && memcmp(line, key, len) == 0;
}

static int cmp_raw(const void *a, const void *b)
{
	return strcmp(((const struct raw_map *)a)->name, ((const struct raw_map *)b)->name);
}

/* Saturating add: hostile numbers must not wrap totals around. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void fold(struct smaps_table *t, struct raw_map *maps, size_t n)
{
	if (n > 1)
		qsort(maps, n, sizeof(*maps), cmp_raw);
	t->e = xcalloc(n ? n : 1, sizeof(*t->e));
	for (size_t i = 0; i < n; i++) {
		struct smaps_entry *e;
		if (t->n > 0 && strcmp(t->e[t->n - 1].name, maps[i].name) == 0) {
			e = &t->e[t->n - 1];
			free(maps[i].name);
		} else {
			e = &t->e[t->n++];
			e->name = maps[i].name;
		}
		e->size_kb = sat_add(e->size_kb, maps[i].size_kb);
		e->rss_kb = sat_add(e->rss_kb, maps[i].rss_kb);
		e->anon_kb = sat_add(e->anon_kb, maps[i].anon_kb);
		e->swap_kb = sat_add(e->swap_kb, maps[i].swap_kb);
		e->mappings++;
		t->size_kb = sat_add(t->size_kb, maps[i].size_kb);
		t->rss_kb = sat_add(t->rss_kb, maps[i].rss_kb);
		t->anon_kb = sat_add(t->anon_kb, maps[i].anon_kb);
		t->swap_kb = sat_add(t->swap_kb, maps[i].swap_kb);
		t->mappings++;
	}
}

int smaps_parse(const char *buf, size_t len, struct smaps_table *out)
{
	struct raw_map *maps = NULL, *cur = NULL;
	size_t n = 0, cap = 0, pos = 0;
	char line[LINE_MAX_LEN];

	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		size_t keep = ll < sizeof(line) - 1 ? ll : sizeof(line) - 1;
		const char *name;
		size_t key_len;
		uint64_t kb;

		memcpy(line, buf + pos, keep);
		line[keep] = '\0';
		/* NUL bytes inside a line end it early; that is fine for hostile input. */
		pos += ll + (nl ? 1 : 0);
		if (line[0] == '\0')
			continue;
		if (parse_header(line, &name)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				maps = xrealloc(maps, cap * sizeof(*maps));
			}
			cur = &maps[n++];
			memset(cur, 0, sizeof(*cur));
			cur->name = map_name(name);
		} else if (cur && parse_field(line, &key_len, &kb)) {
			if (key_is(line, key_len, "Size"))
				cur->size_kb = kb;
			else if (key_is(line, key_len, "Rss"))
				cur->rss_kb = kb;
			else if (key_is(line, key_len, "Anonymous"))
				cur->anon_kb = kb;
			else if (key_is(line, key_len, "Swap"))
				cur->swap_kb = kb;
		} else {
			out->bad_lines++;
		}
	}
	fold(out, maps, n);
	free(maps);
	return n ? 0 : -EINVAL;
}

void smaps_table_fini(struct smaps_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->e[i].name);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static const struct smaps_entry *find(const struct smaps_table *t, const char *name)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->e[mid].name, name);
		if (c == 0)
			return &t->e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int64_t delta(uint64_t now, uint64_t base)
{
	if (now >= base)
		return now - base > INT64_MAX ? INT64_MAX : (int64_t)(now - base);
	return base - now > INT64_MAX ? -INT64_MAX : -(int64_t)(base - now);
}

static int64_t growth_key(const struct smaps_growth *g)
{
	return g->rss_kb > g->anon_kb ? g->rss_kb : g->anon_kb;
}

static int cmp_growth(const void *a, const void *b)
{
	const struct smaps_growth *x = a, *y = b;
	int64_t kx = growth_key(x), ky = growth_key(y);
	if (kx != ky)
		return kx > ky ? -1 : 1;
	return strcmp(x->name, y->name);
}

size_t smaps_diff(const struct smaps_table *base, const struct smaps_table *now,
		  struct smaps_growth **out)
{
	struct smaps_growth *g = xcalloc(now->n ? now->n : 1, sizeof(*g));
	size_t n = 0;

	for (size_t i = 0; i < now->n; i++) {
		const struct smaps_entry *e = &now->e[i];
		const struct smaps_entry *b = find(base, e->name);
		int64_t drss = delta(e->rss_kb, b ? b->rss_kb : 0);
		int64_t danon = delta(e->anon_kb, b ? b->anon_kb : 0);
		if (drss <= 0 && danon <= 0)
			continue;
		g[n++] = (struct smaps_growth){e->name,	   drss,	danon,	  e->rss_kb,
					       e->anon_kb, e->mappings, b == NULL};
	}
	qsort(g, n, sizeof(*g), cmp_growth);
	*out = g;
	return n;
}

/* kB as "+120.0MiB" (signed) or "130.2MiB". */
static void fmt_kb(int64_t kb, bool sign, char *buf, unsigned len)
{
	char v[32];
	metric_format(M_RSS, (double)kb * 1024.0, v, sizeof(v));
	snprintf(buf, len, "%s%s", sign && kb > 0 ? "+" : "", v);
}

int smaps_write_diff(FILE *f, const struct smaps_table *base, const struct smaps_table *now,
		     size_t max_rows)
{
	struct smaps_growth *g;
	size_t n = smaps_diff(base, now, &g);
	char a[40], b[40], c[40], d[40];

	fprintf(f, "# mappings whose memory grew since the baseline, largest growth first\n");
	fprintf(f, "# %12s %12s %12s %12s %5s  %s\n", "rss_growth", "anon_growth", "rss_now",
		"anon_now", "maps", "mapping");
	for (size_t i = 0; i < n && i < max_rows; i++) {
		fmt_kb(g[i].rss_kb, true, a, sizeof(a));
		fmt_kb(g[i].anon_kb, true, b, sizeof(b));
		fmt_kb((int64_t)g[i].now_rss_kb, false, c, sizeof(c));
		fmt_kb((int64_t)g[i].now_anon_kb, false, d, sizeof(d));
		fprintf(f, "  %12s %12s %12s %12s %5u  %s%s\n", a, b, c, d, g[i].mappings,
			g[i].name, g[i].is_new ? "  (new)" : "");
	}
	if (n > max_rows)
		fprintf(f, "  ... %zu more\n", n - max_rows);
	if (n == 0)
		fprintf(f, "  (no mapping grew)\n");
	fmt_kb(delta(now->rss_kb, base->rss_kb), true, a, sizeof(a));
	fmt_kb((int64_t)base->rss_kb, false, b, sizeof(b));
	fmt_kb((int64_t)now->rss_kb, false, c, sizeof(c));
	fprintf(f, "total: rss %s (%s -> %s)", a, b, c);
	fmt_kb(delta(now->anon_kb, base->anon_kb), true, a, sizeof(a));
	fmt_kb((int64_t)base->anon_kb, false, b, sizeof(b));
	fmt_kb((int64_t)now->anon_kb, false, c, sizeof(c));
	fprintf(f, ", anonymous %s (%s -> %s), %zu of %zu names grew, %u -> %u mappings\n", a, b, c,
		n, now->n, base->mappings, now->mappings);
	free(g);
	return ferror(f) ? -EIO : 0;
}
