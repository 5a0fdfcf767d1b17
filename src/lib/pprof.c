/* pprof: builds profile.proto messages, gzipped, as `go tool pprof` reads them. */
#include "lib/pprof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include <zlib.h>

#include "lib/util.h"

/* Field numbers from github.com/google/pprof proto/profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	VALUETYPE_TYPE = 1,
	VALUETYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	SAMPLE_LABEL = 3,
	LABEL_KEY = 1,
	LABEL_STR = 2,
	LABEL_NUM = 3,
	LABEL_NUM_UNIT = 4,
	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,
	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1,
	LINE_LINE = 2,
	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
	FUNCTION_START_LINE = 5,
};
enum { WT_VARINT = 0, WT_LEN = 2 };

struct buf {
	uint8_t *p;
	size_t n, cap;
};

/* A set of byte strings, each with an id. */
struct hent {
	uint8_t *key;
	size_t klen;
	uint64_t id;
};
struct htab {
	struct hent *e;
	size_t n, cap;
};

struct mapping {
	uint64_t start, limit, offset;
	int64_t file, build_id;
	bool has_functions, has_filenames, has_lines;
};

struct pprof_builder {
	struct buf sample_types, samples, locations, functions, comments;
	struct htab strs, maps_h, funcs_h, locs_h;
	char **strings;
	size_t nstrings, cap_strings;
	struct mapping *maps;
	size_t nmaps;
	size_t nsample_types, nsamples, nlocations, nfunctions;
	int64_t period_type, period_unit, period;
	bool has_period;
	int64_t default_type, time_ns, duration_ns;
};

/* ---- protobuf writing ---- */

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return;
	b->cap = (b->n + more) * 2 + 64;
	b->p = xrealloc(b->p, b->cap);
}

static void put_bytes(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_varint(struct buf *b, uint64_t v)
{
	buf_reserve(b, 10);
	while (v >= 0x80) {
		b->p[b->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b->p[b->n++] = (uint8_t)v;
}

static void put_tag(struct buf *b, unsigned field, unsigned wt)
{
	put_varint(b, (uint64_t)field << 3 | wt);
}

/* A varint field; zero values are left out, as proto3 does. */
static void put_uint(struct buf *b, unsigned field, uint64_t v)
{
	if (!v)
		return;
	put_tag(b, field, WT_VARINT);
	put_varint(b, v);
}

static void put_len(struct buf *b, unsigned field, const void *p, size_t n)
{
	put_tag(b, field, WT_LEN);
	put_varint(b, n);
	put_bytes(b, p, n);
}

/* ---- interning ---- */

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static void htab_free(struct htab *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->e[i].key);
	free(t->e);
}

/* Returns the entry for key; a new one has id 0 for the caller to fill. */
static struct hent *htab_get(struct htab *t, const void *key, size_t klen)
{
	size_t i;

	if (2 * (t->n + 1) > t->cap) {
		size_t ncap = t->cap ? 2 * t->cap : 64;
		struct hent *ne = xcalloc(ncap, sizeof(*ne));
		for (size_t j = 0; j < t->cap; j++) {
			if (!t->e[j].key)
				continue;
			for (i = hash_bytes(t->e[j].key, t->e[j].klen) & (ncap - 1); ne[i].key;
			     i = (i + 1) & (ncap - 1))
				;
			ne[i] = t->e[j];
		}
		free(t->e);
		t->e = ne;
		t->cap = ncap;
	}
	for (i = hash_bytes(key, klen) & (t->cap - 1); t->e[i].key; i = (i + 1) & (t->cap - 1))
		if (t->e[i].klen == klen && memcmp(t->e[i].key, key, klen) == 0)
			return &t->e[i];
	t->e[i].key = xmalloc(klen ? klen : 1);
	memcpy(t->e[i].key, key, klen);
	t->e[i].klen = klen;
	t->e[i].id = 0;
	t->n++;
	return &t->e[i];
}

int64_t pprof_string(pprof_builder *b, const char *s)
{
	struct hent *e;

	if (!s || !s[0])
		return 0;
	e = htab_get(&b->strs, s, strlen(s));
	if (e->id)
		return (int64_t)e->id;
	if (b->nstrings == b->cap_strings) {
		b->cap_strings = b->cap_strings ? 2 * b->cap_strings : 64;
		b->strings = xrealloc(b->strings, b->cap_strings * sizeof(*b->strings));
	}
	b->strings[b->nstrings] = xstrdup(s);
	e->id = b->nstrings++;
	return (int64_t)e->id;
}

pprof_builder *pprof_builder_new(void)
{
	pprof_builder *b = xcalloc(1, sizeof(*b));
	b->cap_strings = 64;
	b->strings = xmalloc(b->cap_strings * sizeof(*b->strings));
	b->strings[b->nstrings++] = xstrdup(""); /* string 0 is always "" */
	return b;
}

void pprof_builder_free(pprof_builder *b)
{
	if (!b)
		return;
	free(b->sample_types.p);
	free(b->samples.p);
	free(b->locations.p);
	free(b->functions.p);
	free(b->comments.p);
	htab_free(&b->strs);
	htab_free(&b->maps_h);
	htab_free(&b->funcs_h);
	htab_free(&b->locs_h);
	for (size_t i = 0; i < b->nstrings; i++)
		free(b->strings[i]);
	free(b->strings);
	free(b->maps);
	free(b);
}

static void value_type(pprof_builder *b, struct buf *out, unsigned field, const char *type,
		       const char *unit)
{
	struct buf vt = {0};
	put_uint(&vt, VALUETYPE_TYPE, (uint64_t)pprof_string(b, type));
	put_uint(&vt, VALUETYPE_UNIT, (uint64_t)pprof_string(b, unit));
	put_len(out, field, vt.p, vt.n);
	free(vt.p);
}

void pprof_add_sample_type(pprof_builder *b, const char *type, const char *unit)
{
	value_type(b, &b->sample_types, PROFILE_SAMPLE_TYPE, type, unit);
	b->nsample_types++;
}

void pprof_set_period(pprof_builder *b, const char *type, const char *unit, int64_t period)
{
	b->period_type = pprof_string(b, type);
	b->period_unit = pprof_string(b, unit);
	b->period = period;
	b->has_period = true;
}

void pprof_set_default_sample_type(pprof_builder *b, const char *type)
{
	b->default_type = pprof_string(b, type);
}

void pprof_set_time(pprof_builder *b, int64_t time_ns, int64_t duration_ns)
{
	b->time_ns = time_ns;
	b->duration_ns = duration_ns;
}

void pprof_add_comment(pprof_builder *b, const char *comment)
{
	put_uint(&b->comments, PROFILE_COMMENT, (uint64_t)pprof_string(b, comment));
}

uint64_t pprof_mapping_id(pprof_builder *b, const struct pprof_map *m)
{
	struct mapping k = {.start = m->start,
			    .limit = m->limit,
			    .offset = m->offset,
			    .file = pprof_string(b, m->file),
			    .build_id = pprof_string(b, m->build_id)};
	uint64_t key[5] = {k.start, k.limit, k.offset, (uint64_t)k.file, (uint64_t)k.build_id};
	struct hent *e = htab_get(&b->maps_h, key, sizeof(key));

	if (e->id)
		return e->id;
	b->maps = xrealloc(b->maps, (b->nmaps + 1) * sizeof(*b->maps));
	b->maps[b->nmaps++] = k;
	e->id = b->nmaps;
	return e->id;
}

uint64_t pprof_function_id(pprof_builder *b, const char *name, const char *system_name,
			   const char *file, int64_t start_line)
{
	int64_t key[4] = {pprof_string(b, name), pprof_string(b, system_name ? system_name : name),
			  pprof_string(b, file), start_line};
	struct hent *e = htab_get(&b->funcs_h, key, sizeof(key));
	struct buf f = {0};

	if (e->id)
		return e->id;
	e->id = ++b->nfunctions;
	put_uint(&f, FUNCTION_ID, e->id);
	put_uint(&f, FUNCTION_NAME, (uint64_t)key[0]);
	put_uint(&f, FUNCTION_SYSTEM_NAME, (uint64_t)key[1]);
	put_uint(&f, FUNCTION_FILENAME, (uint64_t)key[2]);
	put_uint(&f, FUNCTION_START_LINE, (uint64_t)start_line);
	put_len(&b->functions, PROFILE_FUNCTION, f.p, f.n);
	free(f.p);
	return e->id;
}

uint64_t pprof_location_id(pprof_builder *b, const struct pprof_frame *fr)
{
	uint64_t mid = fr->map ? pprof_mapping_id(b, fr->map) : 0;
	uint64_t addr = fr->is_return && fr->address ? fr->address - 1 : fr->address;
	uint64_t fid = fr->function ? pprof_function_id(b, fr->function, NULL, fr->file, 0) : 0;
	uint64_t key[4] = {mid, addr, fid, (uint64_t)fr->line};
	struct hent *e = htab_get(&b->locs_h, key, sizeof(key));
	struct buf l = {0}, line = {0};

	if (e->id)
		return e->id;
	e->id = ++b->nlocations;
	put_uint(&l, LOCATION_ID, e->id);
	put_uint(&l, LOCATION_MAPPING_ID, mid);
	put_uint(&l, LOCATION_ADDRESS, addr);
	if (fid) {
		put_uint(&line, LINE_FUNCTION_ID, fid);
		put_uint(&line, LINE_LINE, (uint64_t)fr->line);
		put_len(&l, LOCATION_LINE, line.p, line.n);
		free(line.p);
	}
	put_len(&b->locations, PROFILE_LOCATION, l.p, l.n);
	free(l.p);
	if (mid) {
		struct mapping *m = &b->maps[mid - 1];
		m->has_functions |= fid != 0;
		m->has_filenames |= fid && fr->file;
		m->has_lines |= fid && fr->line > 0;
	}
	return e->id;
}

int pprof_add_sample(pprof_builder *b, const uint64_t *locs, size_t nlocs, const int64_t *values,
		     size_t nvalues, const struct pprof_label *labels, size_t nlabels)
{
	struct buf s = {0}, packed = {0};

	if (nvalues != b->nsample_types)
		return -EINVAL;
	for (size_t i = 0; i < nlocs; i++)
		put_varint(&packed, locs[i]);
	if (packed.n)
		put_len(&s, SAMPLE_LOCATION_ID, packed.p, packed.n);
	packed.n = 0;
	for (size_t i = 0; i < nvalues; i++)
		put_varint(&packed, (uint64_t)values[i]);
	if (packed.n)
		put_len(&s, SAMPLE_VALUE, packed.p, packed.n);
	for (size_t i = 0; i < nlabels; i++) {
		struct buf l = {0};
		put_uint(&l, LABEL_KEY, (uint64_t)pprof_string(b, labels[i].key));
		if (labels[i].str) {
			put_uint(&l, LABEL_STR, (uint64_t)pprof_string(b, labels[i].str));
		} else {
			put_uint(&l, LABEL_NUM, (uint64_t)labels[i].num);
			put_uint(&l, LABEL_NUM_UNIT, (uint64_t)pprof_string(b, labels[i].num_unit));
		}
		put_len(&s, SAMPLE_LABEL, l.p, l.n);
		free(l.p);
	}
	put_len(&b->samples, PROFILE_SAMPLE, s.p, s.n);
	b->nsamples++;
	free(s.p);
	free(packed.p);
	return 0;
}

int pprof_add_stack(pprof_builder *b, const struct pprof_frame *frames, size_t nframes,
		    const int64_t *values, size_t nvalues, const struct pprof_label *labels,
		    size_t nlabels)
{
	uint64_t *ids = xmalloc((nframes + 1) * sizeof(*ids));
	int rc;

	for (size_t i = 0; i < nframes; i++)
		ids[i] = pprof_location_id(b, &frames[i]);
	rc = pprof_add_sample(b, ids, nframes, values, nvalues, labels, nlabels);
	free(ids);
	return rc;
}

size_t pprof_nsamples(const pprof_builder *b)
{
	return b->nsamples;
}

void pprof_encode(const pprof_builder *b, uint8_t **out, size_t *len)
{
	struct buf o = {0}, m = {0};

	put_bytes(&o, b->sample_types.p, b->sample_types.n);
	put_bytes(&o, b->samples.p, b->samples.n);
	for (size_t i = 0; i < b->nmaps; i++) {
		const struct mapping *mp = &b->maps[i];
		m.n = 0;
		put_uint(&m, MAPPING_ID, i + 1);
		put_uint(&m, MAPPING_MEMORY_START, mp->start);
		put_uint(&m, MAPPING_MEMORY_LIMIT, mp->limit);
		put_uint(&m, MAPPING_FILE_OFFSET, mp->offset);
		put_uint(&m, MAPPING_FILENAME, (uint64_t)mp->file);
		put_uint(&m, MAPPING_BUILD_ID, (uint64_t)mp->build_id);
		put_uint(&m, MAPPING_HAS_FUNCTIONS, mp->has_functions);
		put_uint(&m, MAPPING_HAS_FILENAMES, mp->has_filenames);
		put_uint(&m, MAPPING_HAS_LINE_NUMBERS, mp->has_lines);
		put_len(&o, PROFILE_MAPPING, m.p, m.n);
	}
	free(m.p);
	put_bytes(&o, b->locations.p, b->locations.n);
	put_bytes(&o, b->functions.p, b->functions.n);
	for (size_t i = 0; i < b->nstrings; i++)
		put_len(&o, PROFILE_STRING_TABLE, b->strings[i], strlen(b->strings[i]));
	put_uint(&o, PROFILE_TIME_NANOS, (uint64_t)b->time_ns);
	put_uint(&o, PROFILE_DURATION_NANOS, (uint64_t)b->duration_ns);
	if (b->has_period) {
		struct buf vt = {0};
		put_uint(&vt, VALUETYPE_TYPE, (uint64_t)b->period_type);
		put_uint(&vt, VALUETYPE_UNIT, (uint64_t)b->period_unit);
		put_len(&o, PROFILE_PERIOD_TYPE, vt.p, vt.n);
		free(vt.p);
		put_uint(&o, PROFILE_PERIOD, (uint64_t)b->period);
	}
	put_bytes(&o, b->comments.p, b->comments.n);
	put_uint(&o, PROFILE_DEFAULT_SAMPLE_TYPE, (uint64_t)b->default_type);
	*out = o.p ? o.p : xmalloc(1);
	*len = o.n;
}

int pprof_write_file(const pprof_builder *b, const char *path, char *err, size_t errlen)
{
	uint8_t *raw, *gz;
	size_t rawlen;
	z_stream zs;
	int rc;

	pprof_encode(b, &raw, &rawlen);
	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip wrapper, as pprof files have. */
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(raw);
		snprintf(err, errlen, "deflateInit2 failed");
		return -ENOMEM;
	}
	size_t cap = deflateBound(&zs, rawlen) + 64;
	gz = xmalloc(cap);
	zs.next_in = raw;
	zs.avail_in = (uInt)rawlen;
	zs.next_out = gz;
	zs.avail_out = (uInt)cap;
	rc = deflate(&zs, Z_FINISH);
	size_t gzlen = cap - zs.avail_out;
	deflateEnd(&zs);
	free(raw);
	if (rc != Z_STREAM_END) {
		free(gz);
		snprintf(err, errlen, "deflate %s: zlib error %d", path, rc);
		return -EIO;
	}
	rc = util_write_file_atomic(path, gz, gzlen);
	free(gz);
	if (rc < 0)
		snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
	return rc;
}
