/*
 * test_pprof: the protobuf encoder against hand-computed bytes, and written
 * profiles read back by `go tool pprof` (-raw and -top) and by pprof_decode.
 */
#include "lib/pprof.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/pprof_decode.h"
#include "lib/util.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test_pprof.XXXXXX";

/* Runs `go tool pprof ARGS FILE` and returns its stdout (malloc'd), or NULL. */
static char *go_pprof(const char *args, const char *file)
{
	char cmd[1024], *out = NULL;
	size_t len = 0, cap = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "HOME=%s PPROF_TMPDIR=%s go tool pprof %s %s 2>&1", tmpdir,
		 tmpdir, args, file);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	for (;;) {
		if (len + 4096 > cap)
			out = xrealloc(out, cap = 2 * cap + 8192);
		size_t n = fread(out + len, 1, cap - len - 1, p);
		if (n == 0)
			break;
		len += n;
	}
	out[len] = '\0';
	if (pclose(p) != 0) {
		printf("# go tool pprof %s failed:\n%s\n", args, out);
		free(out);
		return NULL;
	}
	return out;
}

static void test_bytes(void)
{
	pprof_builder *b = pprof_builder_new();
	static const uint8_t want[] = {
	    0x0a, 0x04, 0x08, 0x01, 0x10, 0x02,		   /* sample_type {type:1 unit:2} */
	    0x12, 0x04, 0x12, 0x02, 0x96, 0x01,		   /* sample {value: [150]} */
	    0x32, 0x00, 0x32, 0x01, 'a',  0x32, 0x01, 'b', /* string_table "", "a", "b" */
	};
	int64_t v = 150;
	uint8_t *out;
	size_t len;

	pprof_add_sample_type(b, "a", "b");
	is_int(pprof_add_sample(b, NULL, 0, &v, 1, NULL, 0), 0, "sample with one value");
	is_int(pprof_add_sample(b, NULL, 0, &v, 0, NULL, 0), -EINVAL,
	       "a sample without one value per sample type is refused");
	pprof_encode(b, &out, &len);
	is_int(len, sizeof(want), "encoded length");
	ok(len == sizeof(want) && memcmp(out, want, len) == 0, "encoded bytes match profile.proto");
	is_int(pprof_string(b, "a"), 1, "strings are interned");
	is_int(pprof_string(b, ""), 0, "string 0 is the empty string");
	free(out);
	pprof_builder_free(b);
}

static const struct pprof_map exe = {0x400000, 0x401000, 0x1000, "/usr/bin/demo",
				     "0123456789abcdef0123456789abcdef01234567"};
static const struct pprof_map lib = {0x7f0000000000, 0x7f0000100000, 0x26000, "/lib/libdemo.so",
				     NULL};

/* A profile with two stacks sharing frames, labels of both kinds and a stripped frame. */
static pprof_builder *demo(void)
{
	pprof_builder *b = pprof_builder_new();
	struct pprof_frame s1[] = {
	    {0x7f0000000123, false, "leaf_wait", "wait.c", 12, &lib},
	    {0x400510, true, "middle", "demo.c", 30, &exe},
	    {0x400600, true, "main", "demo.c", 50, &exe},
	};
	struct pprof_frame s2[] = {
	    {0x400555, false, "hot_loop", "demo.c", 40, &exe},
	    {0x400700, true, NULL, NULL, 0, &exe}, /* stripped: address only */
	    {0x400600, true, "main", "demo.c", 50, &exe},
	};
	struct pprof_label l1[] = {{.key = "thread", .str = "worker-1"},
				   {.key = "tid", .num = 4242}};
	struct pprof_label l2[] = {{.key = "thread", .str = "main"},
				   {.key = "bytes", .num = 1 << 20, .num_unit = "bytes"}};
	int64_t v1[] = {3, 30000000}, v2[] = {7, (int64_t)1 << 40};

	pprof_add_sample_type(b, "samples", "count");
	pprof_add_sample_type(b, "cpu", "nanoseconds");
	pprof_set_default_sample_type(b, "cpu");
	pprof_set_period(b, "cpu", "nanoseconds", 10101010);
	pprof_set_time(b, 1700000000LL * 1000000000, 2000000000);
	pprof_add_comment(b, "made by test_pprof");
	pprof_mapping_id(b, &exe); /* the main binary is mapping 1 */
	pprof_add_stack(b, s1, 3, v1, 2, l1, 2);
	pprof_add_stack(b, s2, 3, v2, 2, l2, 2);
	return b;
}

static void test_go_pprof(void)
{
	pprof_builder *b = demo();
	char path[256], err[256], *raw, *top;
	struct pprof_profile *p = NULL;
	uint64_t id1, id2;

	snprintf(path, sizeof(path), "%s/demo.pb.gz", tmpdir);
	is_int(pprof_write_file(b, path, err, sizeof(err)), 0, "write %s", path);
	is_int(pprof_nsamples(b), 2, "two samples");
	id1 =
	    pprof_location_id(b, &(struct pprof_frame){0x400600, true, "main", "demo.c", 50, &exe});
	id2 =
	    pprof_location_id(b, &(struct pprof_frame){0x400600, true, "main", "demo.c", 50, &exe});
	ok(id1 == id2 && id1 != 0, "an equal frame is the same location");
	is_int(pprof_location_id(
		   b, &(struct pprof_frame){0x400600, false, "main", "demo.c", 50, &exe}) == id1,
	       0, "a leaf pc is a different location than the same return address");

	is_int(pprof_decode_file(path, 0, &p, err, sizeof(err)), 0, "pprof_decode reads it back");
	if (p) {
		is_int(p->nsamples, 2, "decoded: two samples");
		is_int(p->nsample_types, 2, "decoded: two sample types");
		is_str(p->sample_types[1].type, "cpu", "decoded: second type");
		is_int(p->period, 10101010, "decoded: period");
		is_int(p->samples[1].values[1], (int64_t)1 << 40, "decoded: a 41-bit value");
		is_int(p->samples[0].nlocs, 3, "decoded: three frames");
		is_int(p->locations[p->samples[0].locs[1]].address, 0x40050f,
		       "decoded: return address moved to the call");
		is_int(p->locations[p->samples[0].locs[0]].address, 0x7f0000000123,
		       "decoded: leaf pc kept");
		pprof_free(p);
	}

	raw = go_pprof("-raw", path);
	ok(raw != NULL, "go tool pprof -raw reads the profile");
	if (raw) {
		ok(strstr(raw, "PeriodType: cpu nanoseconds") != NULL, "period type");
		ok(strstr(raw, "Period: 10101010") != NULL, "period");
		ok(strstr(raw, "samples/count cpu/nanoseconds") != NULL, "sample types");
		ok(strstr(raw, "thread:[worker-1]") != NULL, "string label");
		ok(strstr(raw, "tid:[4242]") != NULL, "numeric label");
		ok(strstr(raw, "bytes:[1048576 bytes]") != NULL, "numeric label with a unit");
		ok(strstr(raw, "0x40050f M=1 middle demo.c:30") != NULL,
		   "return address adjusted by one, function, file and line");
		ok(strstr(raw, "0x7f0000000123 M=2 leaf_wait wait.c:12") != NULL,
		   "leaf not adjusted");
		ok(strstr(raw, "0x4006ff M=1 \n") != NULL,
		   "a stripped frame is an address-only location");
		ok(strstr(raw, "/usr/bin/demo 0123456789abcdef0123456789abcdef01234567") != NULL,
		   "mapping with build-id");
		ok(strstr(raw, "0x400000/0x401000/0x1000") != NULL, "mapping range and offset");
		ok(strstr(raw, "made by test_pprof") != NULL, "comment");
		free(raw);
	}
	top = go_pprof("-top -sample_index=samples", path);
	ok(top != NULL, "go tool pprof -top reads the profile");
	if (top) {
		ok(strstr(top, "7 70.00% 70.00%          7 70.00%  hot_loop") != NULL,
		   "-top: hot_loop has 7 of 10 samples flat");
		ok(strstr(top, "0     0%   100%         10   100%  main") != NULL,
		   "-top: main has all 10 samples cumulative");
		if (!strstr(top, "hot_loop"))
			printf("# %s\n", top);
		free(top);
	}
	pprof_builder_free(b);
}

static void test_empty(void)
{
	pprof_builder *b = pprof_builder_new();
	char path[256], err[256], *raw;

	pprof_add_sample_type(b, "threads", "count");
	snprintf(path, sizeof(path), "%s/empty.pb.gz", tmpdir);
	is_int(pprof_write_file(b, path, err, sizeof(err)), 0, "write an empty profile");
	raw = go_pprof("-raw", path);
	ok(raw && strstr(raw, "threads/count"), "go tool pprof reads an empty profile");
	free(raw);
	snprintf(path, sizeof(path), "%s/no/such/dir/x.pb.gz", tmpdir);
	ok(pprof_write_file(b, path, err, sizeof(err)) < 0 && strstr(err, "no/such/dir"),
	   "an unwritable path fails with its name in the message");
	pprof_builder_free(b);
}

int main(void)
{
	int have_go = system("go version >/dev/null 2>&1") == 0;

	if (!mkdtemp(tmpdir))
		return 1;
	test_bytes();
	if (have_go) {
		test_go_pprof();
		test_empty();
	} else {
		printf("# go not installed: skipping the go tool pprof checks\n");
	}
	if (!getenv("KEEP"))
		util_rm_rf(tmpdir);
	else
		printf("# %s\n", tmpdir);
	return done_testing();
}
