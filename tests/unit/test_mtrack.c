/* test_mtrack: the pure parts of malloc tracking (weights, the cost guard's plan, which files
 * hold an allocator) and a four-valued profile as pprof. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/native/mtrack.h"
#include "capture/native/mtrack_attach.h"
#include "capture/native/mtrack_guard.h"
#include "capture/native/perf_profile.h"
#include "lib/pprof_decode.h"
#include "tap.h"

static void weights(void)
{
	/* sampling by bytes: a sample of size s stands for 1 / (1 - e^(-s/mean)) allocations */
	is_double(mtrack_weight(512 * 1024, 512 * 1024), 1.0 / (1.0 - exp(-1.0)), 1e-9,
		  "a sample of the mean's size stands for 1/(1-1/e) allocations");
	is_double(mtrack_weight(64, 512 * 1024) * 64, 512 * 1024 + 32, 1.0,
		  "a small sample stands for about mean bytes");
	is_double(mtrack_weight(1u << 30, 512 * 1024), 1.0, 1e-9, "a huge sample stands for itself");
	is_double(mtrack_weight(0, 512 * 1024), 1.0, 0, "size 0: weight 1");
}

static void plans(void)
{
	struct mtrack_plan p;

	mtrack_guard_plan(1000, 5000, 0.02, 10000, &p);
	ok(!p.shortened && !p.refused && p.duration_ms == 10000,
	   "1000 calls/s at 5 us: 0.5%% of a core, within 2%%: the full 10 s");
	is_double(p.cost_cores, 0.005, 1e-12, "the cost in cores");
	mtrack_guard_plan(20000, 5000, 0.02, 10000, &p);
	ok(p.shortened && !p.refused && p.duration_ms == 2000,
	   "20000 calls/s at 5 us: 10%% of a core: 2 s costs what 10 s would within 2%%");
	mtrack_guard_plan(200000, 5000, 0.02, 10000, &p);
	ok(p.refused && p.duration_ms == 0, "200000 calls/s: under a second within budget: refused");
	mtrack_guard_plan(0, 5000, 0.02, 10000, &p);
	ok(!p.refused && p.duration_ms == 10000, "an idle allocator: the full duration");
}

static void candidates(void)
{
	ok(mtrack_attach_candidate("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/api"), "libc");
	ok(mtrack_attach_candidate("/usr/bin/api", "/usr/bin/api"), "the executable itself");
	ok(mtrack_attach_candidate("/usr/lib/x86_64-linux-gnu/libasan.so.8", NULL),
	   "a preloaded allocator of any name (its symbols decide)");
	ok(!mtrack_attach_candidate("/usr/bin/api (deleted)", "/usr/bin/api"), "a deleted file");
	ok(!mtrack_attach_candidate("[vdso]", "/usr/bin/api"), "no file");
}

static void four_values(void)
{
	perf_profile *p = perf_profile_new();
	uint64_t ips[] = {0x1000, 0x2000};
	char path[] = "/tmp/test_mtrack.XXXXXX", err[256];
	struct pprof_profile *d = NULL;
	size_t st;
	int fd = mkstemp(path), rc;

	perf_profile_set_types(p, "inuse_objects", "count", "inuse_space", "bytes", true);
	perf_profile_set_extra_types(p, "alloc_objects", "count", "alloc_space", "bytes");
	st = perf_profile_intern(p, "t", ips, 2);
	perf_profile_charge_extra(p, st, 3, 300);
	perf_profile_charge(p, st, 1, 100);
	close(fd);
	rc = perf_profile_write_pprof(p, path, 0, 1000, 524288, "test", err, sizeof(err));
	is_int(rc, 0, "a four-valued profile is written");
	rc = pprof_decode_file(path, 0, &d, err, sizeof(err));
	is_int(rc, 0, "and decodes");
	if (rc == 0) {
		is_int((int)d->nsample_types, 4, "four sample types");
		is_str(d->sample_types[3].type, "alloc_space", "the fourth is alloc_space");
		ok(d->nsamples == 1 && d->samples[0].values[0] == 1 &&
			   d->samples[0].values[1] == 100 && d->samples[0].values[2] == 3 &&
			   d->samples[0].values[3] == 300,
		   "the sample carries inuse 1/100 and alloc 3/300");
		is_int((int)d->period, 524288, "the period is the sampling mean");
	}
	pprof_free(d);
	unlink(path);
	perf_profile_free(p);
}

int main(void)
{
	weights();
	plans();
	candidates();
	four_values();
	return done_testing();
}
