/* Unit tests: pprof decoder and heap diff on profiles written by the Go test target, and on hostile bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/heapdiff.h"
#include "lib/pprof_decode.h"
#include "lib/util.h"
#include "tap.h"

#define FIX TOP_SRCDIR "/tests/fixtures/go/"

static int64_t sum_type(const struct pprof_profile *p, const char *type)
{
	int ix = pprof_sample_index(p, type);
	int64_t s = 0;
	if (ix < 0)
		return -1;
	for (size_t i = 0; i < p->nsamples; i++)
		s += p->samples[i].values[ix];
	return s;
}

static const char *leaf_name(const struct pprof_profile *p, size_t sample)
{
	const struct pprof_sample *s = &p->samples[sample];
	if (!s->nlocs || !p->locations[s->locs[0]].nlines)
		return "";
	return p->functions[p->locations[s->locs[0]].lines[0].func].name;
}

static void test_heap_fixture(void)
{
	struct pprof_profile *p;
	char err[256] = "";
	int rc = pprof_decode_file(FIX "heap.now.pb.gz", 0, &p, err, sizeof(err));
	is_int(rc, 0, "decode heap profile written by Go (%s)", err);
	if (rc)
		return;
	is_int(p->nsample_types, 4, "four sample types");
	is_str(p->sample_types[0].type, "alloc_objects", "type 0");
	is_str(p->sample_types[3].type, "inuse_space", "type 3");
	is_str(p->sample_types[3].unit, "bytes", "unit 3");
	is_str(p->period_type.type, "space", "period type");
	is_int(p->period, 524288, "period");
	ok(p->time_nanos > 0, "time set");
	is_int(p->nsamples, 7, "seven samples, as go tool pprof -raw shows");
	/* totals as `go tool pprof -top -unit=byte` prints them for this file */
	is_int(sum_type(p, "inuse_space"), 27142906, "inuse_space total matches go tool pprof");
	is_int(sum_type(p, "inuse_objects"), 3364, "inuse_objects total matches go tool pprof");
	is_str(leaf_name(p, 0), "main.(*requestCache).remember", "leaf of sample 0");
	is_int(p->locations[p->samples[0].locs[0]].lines[0].line, 26, "line of sample 0");
	is_int(p->samples[0].nlocs, 3, "sample 0 has three frames");
	const struct pprof_function *f =
		&p->functions[p->locations[p->samples[0].locs[0]].lines[0].func];
	is_str(f->filename, "hound/gotarget/cache.go", "file name");
	pprof_free(p);

	rc = pprof_decode_file(FIX "goroutines.pb.gz", 0, &p, err, sizeof(err));
	is_int(rc, 0, "decode goroutine profile (%s)", err);
	if (rc)
		return;
	is_int(sum_type(p, "goroutine"), 107, "goroutine total matches go tool pprof");
	pprof_free(p);
}

static void test_frame_class(void)
{
	is_int(heapdiff_frame_class("main.(*requestCache).remember"), 2, "main is application");
	is_int(heapdiff_frame_class("github.com/acme/lfu.(*Cache).Set"), 2, "module is application");
	is_int(heapdiff_frame_class("net/http.(*conn).serve"), 1, "net/http is std");
	is_int(heapdiff_frame_class("bytes.growSlice"), 1, "bytes is std");
	is_int(heapdiff_frame_class("runtime.mapassign_fast64"), 0, "runtime");
	is_int(heapdiff_frame_class("internal/poll.(*FD).Read"), 0, "internal");
}


/*
 * A synthetic Go heap profile: one single-frame sample per function, values
 * as Go writes them (scaled up from a 512 KiB sampling period).
 */
struct fake_fn {
	const char *name;
	int64_t size;          /* object size */
	int64_t inuse, alloc;  /* bytes (estimated, as in the profile) */
};

struct fake_prof {
	struct pprof_profile p;
	struct pprof_value_type types[4];
	struct pprof_function fns[4];
	struct pprof_line lines[4];
	struct pprof_location locs[4];
	struct pprof_sample samples[4];
	uint32_t idx[4];
	int64_t values[4][4];
};

static void fake_profile(struct fake_prof *f, const struct fake_fn *fn, size_t n)
{
	static const char *names[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
	static const char *units[] = {"count", "bytes", "count", "bytes"};
	memset(f, 0, sizeof(*f));
	for (int k = 0; k < 4; k++)
		f->types[k] = (struct pprof_value_type){names[k], units[k]};
	for (size_t i = 0; i < n; i++) {
		f->fns[i] = (struct pprof_function){.id = i + 1, .name = fn[i].name};
		f->lines[i] = (struct pprof_line){(uint32_t)i, 10};
		f->locs[i] = (struct pprof_location){.id = i + 1, .nlines = 1, .lines = &f->lines[i]};
		f->idx[i] = (uint32_t)i;
		f->values[i][0] = fn[i].alloc / fn[i].size;
		f->values[i][1] = fn[i].alloc;
		f->values[i][2] = fn[i].inuse / fn[i].size;
		f->values[i][3] = fn[i].inuse;
		f->samples[i] = (struct pprof_sample){1, &f->idx[i], f->values[i]};
	}
	f->p = (struct pprof_profile){.nsample_types = 4, .sample_types = f->types,
				      .nsamples = n, .samples = f->samples,
				      .nlocations = n, .locations = f->locs,
				      .nfunctions = n, .functions = f->fns,
				      .period_type = {"space", "bytes"}, .period = 512 << 10};
}

static bool grew(const struct fake_fn *base, const struct fake_fn *now, size_t n)
{
	struct fake_prof b, c;
	struct heapdiff *d;
	char err[128];
	fake_profile(&b, base, n);
	fake_profile(&c, now, n);
	if (heapdiff_compute(&b.p, &c.p, &d, err, sizeof(err)) < 0)
		return false;
	bool g = heapdiff_grew(d);
	heapdiff_free(d);
	return g;
}

/* "Did the in-use heap grow" weighs the growth against the profiles' sampling noise. */
static void test_heapdiff_grew(void)
{
	const int64_t M = 1 << 20;
	/*
	 * A service churning 8 KiB garbage: the baseline's profile caught 2 MiB
	 * of it in use, the current one 4 MiB (four more sampled buffers), while
	 * a 128 MiB burst came and went. Not growth: the burst explains the RSS.
	 */
	struct fake_fn churn_b[] = {{"main.steadyTick", 8 << 10, 2 * M, 300 * M},
				    {"main.loadReportBurst", 1 << 20, 0, 0}};
	struct fake_fn churn_n[] = {{"main.steadyTick", 8 << 10, 4 * M, 420 * M},
				    {"main.loadReportBurst", 1 << 20, 0, 128 * M}};
	ok(!grew(churn_b, churn_n, 2), "+2 MiB of sampled 8 KiB garbage is noise, not growth");
	/* the same +2 MiB in 1 MiB objects (each one sampled for sure) is growth */
	struct fake_fn big_b[] = {{"main.keep", 1 << 20, 2 * M, 300 * M}};
	struct fake_fn big_n[] = {{"main.keep", 1 << 20, 4 * M, 302 * M}};
	ok(grew(big_b, big_n, 1), "+2 MiB of 1 MiB objects is growth");
	/* a leak of small objects well past the noise of its churn */
	struct fake_fn leak_b[] = {{"main.steadyTick", 8 << 10, 2 * M, 300 * M},
				   {"main.remember", 1 << 10, 1 * M, 1 * M}};
	struct fake_fn leak_n[] = {{"main.steadyTick", 8 << 10, 2 * M, 420 * M},
				   {"main.remember", 1 << 10, 21 * M, 21 * M}};
	ok(grew(leak_b, leak_n, 2), "a 20 MiB leak of 1 KiB objects is growth");
	/*
	 * A 400 MiB heap of small long-lived objects that holds still makes no
	 * noise: a 25 MiB leak (over 5% of it) counts.
	 */
	struct fake_fn held_b[] = {{"main.index", 64, 400 * M, 400 * M},
				   {"main.remember", 1 << 10, 0, 0}};
	struct fake_fn held_n[] = {{"main.index", 64, 400 * M, 400 * M},
				   {"main.remember", 1 << 10, 25 * M, 25 * M}};
	ok(grew(held_b, held_n, 2), "long-lived objects add no noise: +25 MiB on 400 MiB is growth");
	/* under the fixed floor (5% of the baseline) whatever the noise */
	struct fake_fn small_n[] = {{"main.index", 64, 400 * M, 400 * M},
				    {"main.remember", 1 << 10, 15 * M, 15 * M}};
	ok(!grew(held_b, small_n, 2), "+15 MiB on a 400 MiB heap is under 5%%");
}

static void test_heapdiff(void)
{
	struct pprof_profile *b, *n;
	struct heapdiff *d;
	char err[256] = "", path[] = "/tmp/hound-heapdiff-XXXXXX";
	if (pprof_decode_file(FIX "heap.base.pb.gz", 0, &b, err, sizeof(err)) ||
	    pprof_decode_file(FIX "heap.now.pb.gz", 0, &n, err, sizeof(err))) {
		ok(0, "decode fixtures: %s", err);
		return;
	}
	is_int(heapdiff_compute(b, n, &d, err, sizeof(err)), 0, "diff computes");
	ok(d->nflat > 0, "flat view has entries");
	is_str(d->flat[0].func, "main.(*requestCache).remember", "top growth is the leaking function");
	ok(d->flat[0].now_bytes - d->flat[0].base_bytes > 20000000, "it grew by more than 20 MB");
	is_int(d->now_bytes, 27142906, "now total");
	ok(d->ncum > d->nflat - 1, "cum view covers callers");
	int found_drive = 0;
	for (size_t i = 0; i < d->ncum; i++)
		if (strcmp(d->cum[i].func, "main.drive") == 0)
			found_drive = d->cum[i].now_bytes >= d->flat[0].now_bytes;
	ok(found_drive, "cum charges the caller main.drive with the leak too");
	ok(d->inuse_noise > 0 && heapdiff_grew(d), "a 20 MB leak grows past its sampling noise (%lld)",
	   (long long)d->inuse_noise);
	heapdiff_free(d);
	/* a profile diffed with itself shows no growth */
	is_int(heapdiff_compute(n, n, &d, err, sizeof(err)), 0, "self diff");
	ok(d->nflat == 0 || d->flat[0].now_bytes == d->flat[0].base_bytes, "self diff is flat");
	heapdiff_free(d);
	pprof_free(b);
	pprof_free(n);

	int fd = mkstemp(path);
	close(fd);
	is_int(heapdiff_write(FIX "heap.base.pb.gz", FIX "heap.now.pb.gz", path, err, sizeof(err)),
	       0, "heapdiff_write (%s)", err);
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	is_int(heapdiff_print_top(path, m, 3), 0, "print top");
	fclose(m);
	const char *first = text;
	while (first && *first == '#')
		first = strchr(first, '\n') ? strchr(first, '\n') + 1 : NULL;
	char line[512] = "";
	if (first)
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(first, "\n"), first);
	ok(strstr(line, "main.(*requestCache).remember") != NULL,
	   "first data line names the leaking function: %s", line);
	ok(strstr(text, "cum:") == NULL, "print_top shows only the flat view");
	free(text);
	is_int(heapdiff_write(FIX "heap.base.pb.gz", FIX "goroutines.pb.gz", path, err, sizeof(err)),
	       -EINVAL, "a goroutine profile is not a heap profile");
	ok(strstr(err, "inuse_space") != NULL, "error says why: %s", err);
	unlink(path);
}

static uint8_t *gunzip_file(const char *path, size_t *len)
{
	gzFile g = gzopen(path, "rb");
	size_t cap = 1 << 20;
	uint8_t *buf = xmalloc(cap);
	int n = gzread(g, buf, (unsigned)cap);
	gzclose(g);
	*len = n > 0 ? (size_t)n : 0;
	return buf;
}

static void test_hostile(void)
{
	struct pprof_profile *p = NULL;
	char err[256];
	size_t len;
	uint8_t *raw = gunzip_file(FIX "heap.now.pb.gz", &len);
	ok(len > 100, "raw protobuf read (%zu bytes)", len);
	is_int(pprof_decode(raw, len, 0, &p, err, sizeof(err)), 0, "raw (ungzipped) input accepted");
	pprof_free(p);
	is_int(pprof_decode("", 0, 0, &p, err, sizeof(err)), -EINVAL, "empty input");
	ok(p == NULL, "no profile on error");

	/* every truncation: valid or -EINVAL, never a crash (ASan watches) */
	int bad = 0, okc = 0;
	for (size_t n = 0; n < len; n++) {
		int rc = pprof_decode(raw, n, 0, &p, err, sizeof(err));
		if (rc == 0) {
			okc++;
			pprof_free(p);
		} else if (rc == -EINVAL) {
			bad++;
		}
	}
	is_int(bad + okc, (long long)len, "every truncation decodes or is -EINVAL");
	ok(bad > 0, "truncations are rejected (%d)", bad);

	/* random corruption */
	srand(42);
	uint8_t *mut = xmalloc(len);
	int crashes_avoided = 0;
	for (int iter = 0; iter < 3000; iter++) {
		memcpy(mut, raw, len);
		int flips = 1 + rand() % 8;
		for (int k = 0; k < flips; k++)
			mut[(size_t)rand() % len] = (uint8_t)rand();
		int rc = pprof_decode(mut, len, 0, &p, err, sizeof(err));
		if (rc == 0)
			pprof_free(p);
		crashes_avoided += rc == 0 || rc == -EINVAL;
	}
	is_int(crashes_avoided, 3000, "3000 corrupted profiles: decoded or -EINVAL");
	free(mut);

	/* hand-made messages */
	static const uint8_t group[] = { 0x0b, 0x0c };                  /* field 1, start group */
	static const uint8_t huge_len[] = { 0x32, 0xff, 0xff, 0xff, 0xff, 0x0f }; /* string, 4 GiB */
	static const uint8_t long_varint[] = { 0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					       0xff, 0xff, 0xff, 0xff, 0x01 };
	/* string table [""], one sample pointing at location 7 which does not exist */
	static const uint8_t dangling[] = { 0x32, 0x00, 0x12, 0x02, 0x08, 0x07 };
	/* string table ["x"]: entry 0 must be empty */
	static const uint8_t bad_str0[] = { 0x32, 0x01, 'x' };
	/* a sample type naming string 5 of 1 */
	static const uint8_t bad_stridx[] = { 0x32, 0x00, 0x0a, 0x02, 0x08, 0x05 };
	/* one sample type, a sample with two values */
	static const uint8_t nvals[] = { 0x32, 0x00, 0x0a, 0x00, 0x12, 0x04, 0x12, 0x02, 0x01, 0x02 };
	/* two functions with the same id */
	static const uint8_t dup_id[] = { 0x32, 0x00, 0x2a, 0x02, 0x08, 0x01, 0x2a, 0x02, 0x08, 0x01 };
	static const uint8_t minimal[] = { 0x32, 0x00 };
	struct {
		const uint8_t *b;
		size_t n;
		const char *what;
		int want;
	} cases[] = {
		{ group, sizeof(group), "group wire type", -EINVAL },
		{ huge_len, sizeof(huge_len), "length past the end", -EINVAL },
		{ long_varint, sizeof(long_varint), "11-byte varint", -EINVAL },
		{ dangling, sizeof(dangling), "unknown location id", -EINVAL },
		{ bad_str0, sizeof(bad_str0), "string 0 not empty", -EINVAL },
		{ bad_stridx, sizeof(bad_stridx), "string index out of range", -EINVAL },
		{ nvals, sizeof(nvals), "value count differs from sample types", -EINVAL },
		{ dup_id, sizeof(dup_id), "duplicate function id", -EINVAL },
		{ minimal, sizeof(minimal), "minimal valid profile", 0 },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int rc = pprof_decode(cases[i].b, cases[i].n, 0, &p, err, sizeof(err));
		is_int(rc, cases[i].want, "%s", cases[i].what);
		if (rc == 0)
			pprof_free(p);
	}

	/* a gzip bomb stops at the cap */
	size_t zn = 64 << 20, cn = compressBound(zn);
	uint8_t *zeros = xcalloc(1, zn), *gz = xmalloc(cn + 32);
	z_stream z;
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	z.next_in = zeros;
	z.avail_in = (uInt)zn;
	z.next_out = gz;
	z.avail_out = (uInt)(cn + 32);
	deflate(&z, Z_FINISH);
	size_t gzlen = z.total_out;
	deflateEnd(&z);
	is_int(pprof_decode(gz, gzlen, 1 << 20, &p, err, sizeof(err)), -EFBIG,
	       "64 MiB of zeros (%zu bytes gzipped) stops at a 1 MiB cap", gzlen);
	is_int(pprof_decode(gz, gzlen / 2, 0, &p, err, sizeof(err)), -EINVAL, "truncated gzip");
	free(zeros);
	free(gz);
	free(raw);
}

int main(void)
{
	test_heap_fixture();
	test_frame_class();
	test_heapdiff();
	test_heapdiff_grew();
	test_hostile();
	return done_testing();
}
