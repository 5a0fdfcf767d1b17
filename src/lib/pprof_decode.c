/*
 * pprof_decode: gunzip (zlib) and a two-pass protobuf reader for profile.proto.
 *
 * Pass one counts every repeated element so the second pass fills arrays
 * allocated once with exact sizes: memory is a small multiple of the
 * decompressed size, whatever the input claims. Every length, index and id is
 * checked; malformed input yields -EINVAL, never a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/pbwire.h"
#include "lib/pprof_decode.h"
#include "lib/util.h"

/* profile.proto field numbers */
enum {
	P_SAMPLE_TYPE = 1, P_SAMPLE = 2, P_MAPPING = 3, P_LOCATION = 4, P_FUNCTION = 5,
	P_STRING = 6, P_TIME = 9, P_DURATION = 10, P_PERIOD_TYPE = 11, P_PERIOD = 12,
};

/* Decoding state: counts from pass one, cursors for pass two. */
struct dec {
	struct pprof_profile *p;
	bool fill;
	size_t n_st, n_samples, n_locs, n_funcs, n_strings;
	size_t n_sample_locs, n_values, n_lines, string_bytes;
	size_t i_st, i_samples, i_locs, i_funcs, i_strings;
	size_t i_sample_locs, i_values, i_lines, i_arena;
	uint64_t *sample_loc_ids;  /* raw ids, resolved after pass two */
	uint32_t *sample_loc_ix;
	uint64_t *line_func_ids;
	uint64_t *st_idx;          /* string indexes: 2 per value type */
	uint64_t *func_str_idx;    /* 3 per function */
	char *arena;
	uint64_t period_type[2];
};

static void put_loc_id(void *arg, uint64_t v)
{
	struct dec *d = arg;
	d->sample_loc_ids[d->i_sample_locs++] = v;
}

static void put_value(void *arg, uint64_t v)
{
	struct dec *d = arg;
	d->p->samples[d->i_samples].values[d->p->samples[d->i_samples].nlocs++] = (int64_t)v;
}

static int dec_value_type(struct pbwire *b, uint64_t *out2)
{
	uint32_t f;
	int wt;
	out2[0] = out2[1] = 0;
	while (b->p < b->end) {
		if (pbwire_key(b, &f, &wt) < 0)
			return -EINVAL;
		if ((f == 1 || f == 2) && wt == 0) {
			if (pbwire_varint(b, &out2[f - 1]) < 0)
				return -EINVAL;
		} else if (pbwire_skip(b, wt) < 0) {
			return -EINVAL;
		}
	}
	return 0;
}

static int dec_sample(struct dec *d, struct pbwire *b)
{
	struct pprof_sample *s = d->fill ? &d->p->samples[d->i_samples] : NULL;
	uint32_t f;
	int wt;
	long n;
	size_t loc0 = d->i_sample_locs, nvals = 0;

	if (s) {
		/* samples[0].values is the base of the value array (set before pass two) */
		s->values = d->p->samples[0].values + d->i_values;
		s->nlocs = 0; /* counts values in put_value until the end of the sample */
	}
	while (b->p < b->end) {
		if (pbwire_key(b, &f, &wt) < 0)
			return -EINVAL;
		if (f == 1) {
			n = pbwire_ints(b, wt, s ? put_loc_id : NULL, d);
			if (n < 0)
				return -EINVAL;
			if (!s)
				d->n_sample_locs += (size_t)n;
		} else if (f == 2) {
			n = pbwire_ints(b, wt, s ? put_value : NULL, d);
			if (n < 0)
				return -EINVAL;
			nvals += (size_t)n;
		} else if (pbwire_skip(b, wt) < 0) {
			return -EINVAL;
		}
	}
	if (!s) {
		d->n_values += nvals;
		return 0;
	}
	if (nvals != d->p->nsample_types)
		return -EINVAL;
	d->i_values += nvals;
	s->nlocs = d->i_sample_locs - loc0;
	s->locs = (uint32_t *)(uintptr_t)loc0; /* resolved later */
	d->i_samples++;
	return 0;
}

static int dec_line(struct dec *d, struct pbwire *b)
{
	uint32_t f;
	int wt;
	uint64_t fid = 0, line = 0;
	while (b->p < b->end) {
		if (pbwire_key(b, &f, &wt) < 0)
			return -EINVAL;
		if (f == 1 && wt == 0) {
			if (pbwire_varint(b, &fid) < 0)
				return -EINVAL;
		} else if (f == 2 && wt == 0) {
			if (pbwire_varint(b, &line) < 0)
				return -EINVAL;
		} else if (pbwire_skip(b, wt) < 0) {
			return -EINVAL;
		}
	}
	if (d->fill) {
		struct pprof_location *l = &d->p->locations[d->i_locs];
		l->lines[l->nlines].line = (int64_t)line;
		d->line_func_ids[d->i_lines] = fid;
		l->nlines++;
		d->i_lines++;
	}
	return 0;
}

static int dec_location(struct dec *d, struct pbwire *b)
{
	uint32_t f;
	int wt;
	struct pbwire sub;
	struct pprof_location *l = d->fill ? &d->p->locations[d->i_locs] : NULL;
	if (l) {
		struct pprof_line *lines = d->p->locations[0].lines + d->i_lines;
		memset(l, 0, sizeof(*l));
		l->lines = lines;
	}
	while (b->p < b->end) {
		if (pbwire_key(b, &f, &wt) < 0)
			return -EINVAL;
		if ((f == 1 || f == 3) && wt == 0) {
			uint64_t v;
			if (pbwire_varint(b, &v) < 0)
				return -EINVAL;
			if (l && f == 1)
				l->id = v;
			else if (l)
				l->address = v;
		} else if (f == 4 && wt == 2) {
			if (pbwire_bytes(b, &sub) < 0 || dec_line(d, &sub) < 0)
				return -EINVAL;
			if (!l)
				d->n_lines++;
		} else if (pbwire_skip(b, wt) < 0) {
			return -EINVAL;
		}
	}
	if (l)
		d->i_locs++;
	return 0;
}

static int dec_function(struct dec *d, struct pbwire *b)
{
	uint32_t f;
	int wt;
	uint64_t v[6] = { 0 };
	while (b->p < b->end) {
		if (pbwire_key(b, &f, &wt) < 0)
			return -EINVAL;
		if (f >= 1 && f <= 5 && wt == 0) {
			if (pbwire_varint(b, &v[f]) < 0)
				return -EINVAL;
		} else if (pbwire_skip(b, wt) < 0) {
			return -EINVAL;
		}
	}
	if (d->fill) {
		struct pprof_function *fn = &d->p->functions[d->i_funcs];
		fn->id = v[1];
		fn->start_line = (int64_t)v[5];
		memcpy(&d->func_str_idx[d->i_funcs * 3], &v[2], 3 * sizeof(uint64_t));
		d->i_funcs++;
	}
	return 0;
}

static int dec_pass(struct dec *d, const uint8_t *raw, size_t len)
{
	struct pbwire b = { raw, raw + len }, sub;
	uint32_t f;
	int wt;
	uint64_t v;
	while (b.p < b.end) {
		if (pbwire_key(&b, &f, &wt) < 0)
			return -EINVAL;
		if (wt == 2 && (f == P_SAMPLE_TYPE || f == P_SAMPLE || f == P_LOCATION ||
				f == P_FUNCTION || f == P_STRING || f == P_PERIOD_TYPE)) {
			if (pbwire_bytes(&b, &sub) < 0)
				return -EINVAL;
			int rc = 0;
			switch (f) {
			case P_SAMPLE_TYPE:
				if (d->fill)
					rc = dec_value_type(&sub, &d->st_idx[2 * d->i_st++]);
				else
					d->n_st++;
				break;
			case P_PERIOD_TYPE:
				rc = dec_value_type(&sub, d->period_type);
				break;
			case P_SAMPLE:
				if (!d->fill)
					d->n_samples++;
				rc = dec_sample(d, &sub);
				break;
			case P_LOCATION:
				if (!d->fill)
					d->n_locs++;
				rc = dec_location(d, &sub);
				break;
			case P_FUNCTION:
				if (!d->fill)
					d->n_funcs++;
				rc = dec_function(d, &sub);
				break;
			case P_STRING: {
				size_t n = (size_t)(sub.end - sub.p);
				if (d->fill) {
					char *s = d->arena + d->i_arena;
					memcpy(s, sub.p, n);
					s[n] = '\0';
					d->p->strings[d->i_strings++] = s;
					d->i_arena += n + 1;
				} else {
					d->n_strings++;
					d->string_bytes += n + 1;
				}
				break;
			}
			}
			if (rc < 0)
				return -EINVAL;
		} else if (wt == 0 && (f == P_TIME || f == P_DURATION || f == P_PERIOD)) {
			if (pbwire_varint(&b, &v) < 0)
				return -EINVAL;
			if (f == P_TIME)
				d->p->time_nanos = (int64_t)v;
			else if (f == P_DURATION)
				d->p->duration_nanos = (int64_t)v;
			else
				d->p->period = (int64_t)v;
		} else if (pbwire_skip(&b, wt) < 0) {
			return -EINVAL;
		}
	}
	return 0;
}

struct id_ix {
	uint64_t id;
	uint32_t ix;
};

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = ((const struct id_ix *)a)->id, y = ((const struct id_ix *)b)->id;
	return x < y ? -1 : x > y;
}

/* Maps id -> index through a sorted table; duplicate or zero ids are invalid. */
static struct id_ix *id_table(size_t n, const void *base, size_t stride)
{
	struct id_ix *t = xcalloc(n ? n : 1, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		t[i].id = *(const uint64_t *)(const void *)((const char *)base + i * stride);
		t[i].ix = (uint32_t)i;
	}
	qsort(t, n, sizeof(*t), cmp_id);
	for (size_t i = 0; i < n; i++) {
		if (t[i].id == 0 || (i && t[i].id == t[i - 1].id)) {
			free(t);
			return NULL;
		}
	}
	return t;
}

static long id_find(const struct id_ix *t, size_t n, uint64_t id)
{
	struct id_ix key = { .id = id };
	const struct id_ix *r = bsearch(&key, t, n, sizeof(*t), cmp_id);
	return r ? (long)r->ix : -1;
}

static const char *str_at(const struct pprof_profile *p, uint64_t i)
{
	return i < p->nstrings ? p->strings[i] : NULL;
}

/* Turns raw ids and string indexes into array indexes and pointers. */
static int dec_resolve(struct dec *d)
{
	struct pprof_profile *p = d->p;
	struct id_ix *locs = NULL, *funcs = NULL;
	int rc = -EINVAL;

	if (p->nstrings == 0 || p->strings[0][0] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < p->nsample_types; i++) {
		p->sample_types[i].type = str_at(p, d->st_idx[2 * i]);
		p->sample_types[i].unit = str_at(p, d->st_idx[2 * i + 1]);
		if (!p->sample_types[i].type || !p->sample_types[i].unit)
			return -EINVAL;
	}
	p->period_type.type = str_at(p, d->period_type[0]);
	p->period_type.unit = str_at(p, d->period_type[1]);
	if (!p->period_type.type || !p->period_type.unit)
		return -EINVAL;
	for (size_t i = 0; i < p->nfunctions; i++) {
		struct pprof_function *fn = &p->functions[i];
		fn->name = str_at(p, d->func_str_idx[3 * i]);
		fn->system_name = str_at(p, d->func_str_idx[3 * i + 1]);
		fn->filename = str_at(p, d->func_str_idx[3 * i + 2]);
		if (!fn->name || !fn->system_name || !fn->filename)
			return -EINVAL;
	}
	funcs = id_table(p->nfunctions, &p->functions[0].id, sizeof(p->functions[0]));
	locs = id_table(p->nlocations, &p->locations[0].id, sizeof(p->locations[0]));
	if (!funcs || !locs)
		goto out;
	for (size_t i = 0, k = 0; i < p->nlocations; i++) {
		for (size_t j = 0; j < p->locations[i].nlines; j++, k++) {
			long ix = id_find(funcs, p->nfunctions, d->line_func_ids[k]);
			if (ix < 0)
				goto out;
			p->locations[i].lines[j].func = (uint32_t)ix;
		}
	}
	for (size_t i = 0; i < d->n_sample_locs; i++) {
		long ix = id_find(locs, p->nlocations, d->sample_loc_ids[i]);
		if (ix < 0)
			goto out;
		d->sample_loc_ix[i] = (uint32_t)ix;
	}
	for (size_t i = 0; i < p->nsamples; i++)
		p->samples[i].locs = d->sample_loc_ix + (uintptr_t)p->samples[i].locs;
	rc = 0;
out:
	free(funcs);
	free(locs);
	return rc;
}

static void *carve(char **cur, size_t n, size_t size)
{
	void *r = *cur;
	*cur += (n * size + 15) & ~(size_t)15;
	return r;
}

static int decode_raw(const uint8_t *raw, size_t len, struct pprof_profile **out)
{
	struct pprof_profile *p = xcalloc(1, sizeof(*p));
	struct dec d = { .p = p };
	int rc = dec_pass(&d, raw, len);
	if (rc < 0 || d.n_locs > UINT32_MAX || d.n_funcs > UINT32_MAX ||
	    d.n_values != d.n_samples * d.n_st) {
		free(p);
		return -EINVAL;
	}
	/* One block for everything: each count is bounded by the input length. */
	size_t total = 0;
	size_t parts[][2] = {
		{ d.n_st, sizeof(struct pprof_value_type) }, { d.n_samples, sizeof(struct pprof_sample) },
		{ d.n_locs, sizeof(struct pprof_location) }, { d.n_funcs, sizeof(struct pprof_function) },
		{ d.n_strings, sizeof(char *) }, { d.n_values, sizeof(int64_t) },
		{ d.n_lines, sizeof(struct pprof_line) }, { d.n_sample_locs, sizeof(uint64_t) },
		{ d.n_sample_locs, sizeof(uint32_t) },
		{ d.n_lines, sizeof(uint64_t) }, { d.n_st * 2, sizeof(uint64_t) },
		{ d.n_funcs * 3, sizeof(uint64_t) }, { d.string_bytes, 1 },
	};
	for (size_t i = 0; i < ARRAY_LEN(parts); i++)
		total += (parts[i][0] * parts[i][1] + 15) & ~(size_t)15;
	char *mem = xcalloc(1, total + 16), *cur = mem;
	p->mem_ = mem;
	p->sample_types = carve(&cur, d.n_st, sizeof(struct pprof_value_type));
	p->samples = carve(&cur, d.n_samples, sizeof(struct pprof_sample));
	p->locations = carve(&cur, d.n_locs, sizeof(struct pprof_location));
	p->functions = carve(&cur, d.n_funcs, sizeof(struct pprof_function));
	p->strings = carve(&cur, d.n_strings, sizeof(char *));
	int64_t *values = carve(&cur, d.n_values, sizeof(int64_t));
	struct pprof_line *lines = carve(&cur, d.n_lines, sizeof(struct pprof_line));
	d.sample_loc_ids = carve(&cur, d.n_sample_locs, sizeof(uint64_t));
	d.sample_loc_ix = carve(&cur, d.n_sample_locs, sizeof(uint32_t));
	d.line_func_ids = carve(&cur, d.n_lines, sizeof(uint64_t));
	d.st_idx = carve(&cur, d.n_st * 2, sizeof(uint64_t));
	d.func_str_idx = carve(&cur, d.n_funcs * 3, sizeof(uint64_t));
	d.arena = carve(&cur, d.string_bytes, 1);
	p->nsample_types = d.n_st;
	p->nsamples = d.n_samples;
	p->nlocations = d.n_locs;
	p->nfunctions = d.n_funcs;
	/* Pass two relies on samples[0].values / locations[0].lines as array bases. */
	struct pprof_sample s0 = { .values = values };
	struct pprof_location l0 = { .lines = lines };
	if (d.n_samples)
		p->samples[0] = s0;
	if (d.n_locs)
		p->locations[0] = l0;
	d.fill = true;
	p->time_nanos = p->duration_nanos = p->period = 0;
	rc = dec_pass(&d, raw, len);
	p->nstrings = d.i_strings;
	/* A second pass over the same bytes must see the same shape. */
	if (rc == 0 && (d.i_samples != d.n_samples || d.i_locs != d.n_locs ||
			d.i_funcs != d.n_funcs || d.i_values != d.n_values))
		rc = -EINVAL;
	if (rc == 0)
		rc = dec_resolve(&d);
	if (rc < 0) {
		pprof_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* Inflates a gzip stream into a malloc'd buffer of at most max bytes. */
static int gunzip(const uint8_t *in, size_t len, size_t max, uint8_t **out, size_t *outlen)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	size_t cap = len * 4 < 65536 ? 65536 : len * 4;
	if (cap > max + 1)
		cap = max + 1;
	uint8_t *buf = xmalloc(cap);
	int zr, rc = 0;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	for (;;) {
		if (z.total_out == cap) {
			if (cap > max) {
				rc = -EFBIG;
				break;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out > UINT32_MAX ? UINT32_MAX : cap - z.total_out);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK) { /* includes truncated input (Z_BUF_ERROR) */
			rc = -EINVAL;
			break;
		}
	}
	if (rc == 0 && z.total_out > max)
		rc = -EFBIG;
	*outlen = z.total_out;
	inflateEnd(&z);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}


int pprof_decode(const void *data, size_t len, size_t max_raw, struct pprof_profile **out,
		 char *err, size_t errlen)
{
	const uint8_t *in = data;
	uint8_t *raw = NULL;
	size_t rawlen = len;
	int rc;

	*out = NULL;
	if (!max_raw)
		max_raw = PPROF_MAX_RAW;
	if (len >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
		rc = gunzip(in, len, max_raw, &raw, &rawlen);
		if (rc == -EFBIG)
			return util_err(err, errlen, rc, "profile over %zu bytes uncompressed", max_raw);
		if (rc < 0)
			return util_err(err, errlen, -EINVAL, "profile: corrupt or truncated gzip data");
		in = raw;
	} else if (len > max_raw) {
		return util_err(err, errlen, -EFBIG, "profile over %zu bytes", max_raw);
	}
	rc = decode_raw(in, rawlen, out);
	free(raw);
	if (rc < 0)
		return util_err(err, errlen, rc, "profile: malformed profile.proto data");
	return 0;
}

int pprof_decode_file(const char *path, size_t max_raw, struct pprof_profile **out, char *err,
		      size_t errlen)
{
	char *buf;
	size_t len;
	*out = NULL;
	int rc = util_read_file(path, &buf, &len, max_raw ? max_raw : PPROF_MAX_RAW);
	if (rc < 0)
		return util_err(err, errlen, rc, "read %s: %s", path, strerror(-rc));
	rc = pprof_decode(buf, len, max_raw, out, err, errlen);
	if (rc < 0 && err && errlen) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", err);
		snprintf(err, errlen, "%s: %s", path, tmp);
	}
	free(buf);
	return rc;
}

void pprof_free(struct pprof_profile *p)
{
	if (!p)
		return;
	free(p->mem_);
	free(p);
}

int pprof_sample_index(const struct pprof_profile *p, const char *type)
{
	for (size_t i = 0; i < p->nsample_types; i++)
		if (strcmp(p->sample_types[i].type, type) == 0)
			return (int)i;
	return -1;
}
