/* Unit tests: the PerfData parser and sampler, /proc status and JVM flags, class histograms. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/jvmperf.h"
#include "capture/jvm/jvmhisto.h"
#include "capture/jvm/jvmproc.h"
#include "lib/hsperf.h"
#include "lib/util.h"
#include "report/jvmsummary.h"
#include "tap.h"

#define FIX TOP_SRCDIR "/tests/fixtures/jvm/"

static char *load(const char *name, size_t *len)
{
	char *buf = NULL;
	if (util_read_file(name, &buf, len, 1 << 24) < 0)
		return NULL;
	return buf;
}

static int64_t long_of(const char *buf, size_t len, const char *name)
{
	struct hsperf_header h;
	struct hsperf_entry e;
	if (hsperf_parse_header(buf, len, &h) < 0 || hsperf_find(buf, len, &h, name, &e) != 1)
		return -1;
	return hsperf_long(buf, &h, e.data_off);
}

static void test_parser(void)
{
	size_t len;
	char *buf = load(FIX "hsperfdata-g1.bin", &len);
	struct hsperf_header h;
	struct hsperf_entry e;
	char s[64];

	ok(buf != NULL, "read the G1 fixture");
	if (!buf)
		return;
	is_int(hsperf_parse_header(buf, len, &h), 0, "prologue parses");
	ok(h.little && h.major == 2 && h.minor == 0 && h.accessible, "little endian 2.0, accessible");
	is_int(h.num_entries, 187, "187 entries");
	struct hsperf_iter it;
	int n = 0, rc;
	hsperf_iter_init(&h, &it);
	while ((rc = hsperf_next(buf, len, &h, &it, &e)) == 1)
		n++;
	is_int(rc, 0, "iteration ends cleanly");
	is_int(n, 187, "every entry is walked");
	is_int(hsperf_find(buf, len, &h, "sun.gc.policy.name", &e), 1, "find a string entry");
	hsperf_string(buf, &e, s, sizeof(s));
	is_str(s, "GarbageFirst", "collector policy");
	is_int(long_of(buf, len, "sun.os.hrt.frequency"), 1000000000, "tick frequency");
	is_int(long_of(buf, len, "sun.gc.collector.1.invocations"), 5, "collector 1 invocations");
	is_int(long_of(buf, len, "sun.gc.generation.1.space.0.used"), 6545544, "old space used");
	is_int(hsperf_find(buf, len, &h, "no.such.counter", &e), 0, "absent name: 0");

	/* every truncation and a flipped byte anywhere: an error or a bounded walk, never a crash */
	int bad = 0;
	for (size_t cut = 0; cut < len; cut += 7) {
		if (hsperf_parse_header(buf, cut, &h) < 0) {
			bad++;
			continue;
		}
		hsperf_iter_init(&h, &it);
		while (hsperf_next(buf, cut, &h, &it, &e) == 1)
			continue;
	}
	ok(bad > 0, "short buffers are refused (%d)", bad);
	char *copy = xmalloc(len);
	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		memcpy(copy, buf, len);
		seed = seed * 1103515245u + 12345u;
		copy[(seed >> 8) % 4096] ^= (char)(1u << (seed % 8));
		if (hsperf_parse_header(copy, len, &h) < 0)
			continue;
		hsperf_iter_init(&h, &it);
		while (hsperf_next(copy, len, &h, &it, &e) == 1)
			if (e.type == 'B')
				hsperf_string(copy, &e, s, sizeof(s));
	}
	ok(1, "2000 corrupted copies walked without a fault");
	memcpy(copy, buf, len);
	copy[0] = 0;
	is_int(hsperf_parse_header(copy, len, &h), -EINVAL, "bad magic: -EINVAL");
	memcpy(copy, buf, len);
	copy[7] = 0;
	is_int(hsperf_parse_header(copy, len, &h), -EAGAIN, "not yet accessible: -EAGAIN");
	free(copy);
	free(buf);
}

/* Writes a J counter of a PerfData file in place, as the JVM would. */
static void poke(int fd, const char *buf, size_t len, const char *name, int64_t v)
{
	struct hsperf_header h;
	struct hsperf_entry e;
	if (hsperf_parse_header(buf, len, &h) == 0 && hsperf_find(buf, len, &h, name, &e) == 1)
		if (pwrite(fd, &v, sizeof(v), (off_t)e.data_off) != (ssize_t)sizeof(v))
			printf("# pwrite %s failed\n", name);
}

static void poke_str(int fd, const char *buf, size_t len, const char *name, const char *v)
{
	struct hsperf_header h;
	struct hsperf_entry e;
	if (hsperf_parse_header(buf, len, &h) == 0 && hsperf_find(buf, len, &h, name, &e) == 1)
		if (pwrite(fd, v, strlen(v) + 1, (off_t)e.data_off) != (ssize_t)strlen(v) + 1)
			printf("# pwrite %s failed\n", name);
}

static void test_sampler(void)
{
	size_t len;
	char *buf = load(FIX "hsperfdata-g1.bin", &len), err[256] = "";
	char path[] = "/tmp/hound-test-hsperf-XXXXXX";
	int fd = mkstemp(path);
	jvm_sampler *j = NULL;
	struct proc_sample s;
	struct jvm_view v;

	if (!buf || fd < 0 || util_write_full(fd, buf, len) < 0) {
		ok(0, "temp copy of the fixture");
		goto out;
	}
	is_int(jvm_sampler_open(path, &j, err, sizeof(err)), 0, "sampler maps the file (%s)", err);
	if (!j)
		goto out;
	memset(&s, 0, sizeof(s));
	is_int(jvm_sampler_sample(j, 1000, &s), 0, "first sample");
	ok((s.valid & JVM_METRICS_MASK) == JVM_METRICS_MASK, "all four metrics set");
	is_double(s.v[M_HEAP_INUSE], 6545544, 0, "heap_inuse: every space");
	is_double(s.v[M_HEAP_LIVE], 6545544, 0, "heap_live: the old generation");
	is_double(s.v[M_GC_PAUSE], 0, 0, "first sample: the last pause ended long ago: 0");
	is_double(s.v[M_GC_CPU], 100.0 * (17093044 + 63455163) / 563762134702.0, 1e-9,
		  "first sample gc_cpu: GC time over the JVM's life");
	jvm_sampler_view(j, &v);
	is_int(v.threads, 9, "live threads");
	is_int(v.safepoints, 28, "safepoints");
	is_str(v.gc, "GarbageFirst", "gc policy in the view");

	/* hound's own class histogram: one collection caused by heap inspection is not counted */
	int64_t t0 = 563762134702LL;
	poke_str(fd, buf, len, "sun.gc.lastCause", "Heap Inspection Initiated GC");
	poke(fd, buf, len, "sun.os.hrt.ticks", t0 + 500000000);
	poke(fd, buf, len, "sun.gc.collector.1.invocations", 6);
	poke(fd, buf, len, "sun.gc.collector.1.time", 63455163 + 40000000);
	poke(fd, buf, len, "sun.gc.collector.1.lastEntryTime", t0 + 100000000);
	poke(fd, buf, len, "sun.gc.collector.1.lastExitTime", t0 + 140000000);
	memset(&s, 0, sizeof(s));
	jvm_sampler_sample(j, 1500, &s);
	is_double(s.v[M_GC_PAUSE], 0, 0, "a heap-inspection GC (hound's histogram) is no pause");
	is_double(s.v[M_GC_CPU], 0, 0, "nor GC time");
	/* again, with a young collection of 7 ms just before it in the same interval */
	poke(fd, buf, len, "sun.os.hrt.ticks", t0 + 1000000000);
	poke(fd, buf, len, "sun.gc.collector.0.invocations", 4);
	poke(fd, buf, len, "sun.gc.collector.0.time", 17093044 + 7000000);
	poke(fd, buf, len, "sun.gc.collector.0.lastEntryTime", t0 + 550000000);
	poke(fd, buf, len, "sun.gc.collector.0.lastExitTime", t0 + 557000000);
	poke(fd, buf, len, "sun.gc.collector.1.invocations", 7);
	poke(fd, buf, len, "sun.gc.collector.1.time", 63455163 + 80000000);
	poke(fd, buf, len, "sun.gc.collector.1.lastEntryTime", t0 + 600000000);
	poke(fd, buf, len, "sun.gc.collector.1.lastExitTime", t0 + 640000000);
	memset(&s, 0, sizeof(s));
	jvm_sampler_sample(j, 2000, &s);
	is_double(s.v[M_GC_PAUSE], 0.007, 1e-12, "only the application's own collection counts");
	is_double(s.v[M_GC_CPU], 1.4, 1e-9, "7 ms of GC in 0.5 s: 1.4%%");
	t0 += 500000000;
	poke_str(fd, buf, len, "sun.gc.lastCause", "G1 Evacuation Pause");

	/* one young collection of 5 ms within half a second of JVM time */
	t0 += 500000000;
	poke(fd, buf, len, "sun.os.hrt.ticks", t0 + 500000000);
	poke(fd, buf, len, "sun.gc.collector.0.invocations", 5);
	poke(fd, buf, len, "sun.gc.collector.0.time", 17093044 + 12000000);
	poke(fd, buf, len, "sun.gc.collector.0.lastEntryTime", t0 + 100000000);
	poke(fd, buf, len, "sun.gc.collector.0.lastExitTime", t0 + 105000000);
	poke(fd, buf, len, "sun.rt.safepointTime", 238481312 + 10000000);
	poke(fd, buf, len, "sun.gc.generation.0.space.0.used", 1 << 20);
	memset(&s, 0, sizeof(s));
	jvm_sampler_sample(j, 2000, &s);
	is_double(s.v[M_GC_PAUSE], 0.005, 1e-12, "one collection: its pause");
	is_double(s.v[M_GC_CPU], 1.0, 1e-9, "5 ms of GC in 0.5 s: 1%%");
	is_double(s.v[M_HEAP_INUSE], 6545544 + (1 << 20), 0, "eden counts in heap_inuse");
	is_double(s.v[M_HEAP_LIVE], 6545544, 0, "but not in heap_live");
	jvm_sampler_view(j, &v);
	is_double(v.safepoint_pct, 2.0, 1e-9, "10 ms at safepoints in 0.5 s: 2%%");

	/* three collections, 60 ms in all, the last one 10 ms: the mean is the bound */
	poke(fd, buf, len, "sun.os.hrt.ticks", t0 + 1500000000);
	poke(fd, buf, len, "sun.gc.collector.0.invocations", 8);
	poke(fd, buf, len, "sun.gc.collector.0.time", 17093044 + 72000000);
	poke(fd, buf, len, "sun.gc.collector.0.lastEntryTime", t0 + 1500000000);
	poke(fd, buf, len, "sun.gc.collector.0.lastExitTime", t0 + 1510000000);
	memset(&s, 0, sizeof(s));
	jvm_sampler_sample(j, 3000, &s);
	is_double(s.v[M_GC_PAUSE], 0.020, 1e-12, "several collections: at least their mean");
	is_double(s.v[M_GC_CPU], 6.0, 1e-9, "60 ms in 1 s: 6%%");

	/* a full collection still running for 300 ms */
	poke(fd, buf, len, "sun.os.hrt.ticks", t0 + 2500000000LL);
	poke(fd, buf, len, "sun.gc.collector.1.lastEntryTime", t0 + 2200000000LL);
	memset(&s, 0, sizeof(s));
	jvm_sampler_sample(j, 4000, &s);
	is_double(s.v[M_GC_PAUSE], 0.3, 1e-12, "a pause in progress counts for its time so far");
	is_double(s.v[M_GC_CPU], 30.0, 1e-9, "and its 300 ms in the last second count as GC time");
	/* it ends 200 ms later, 500 ms long: only what was not counted yet is added */
	poke(fd, buf, len, "sun.os.hrt.ticks", t0 + 3500000000LL);
	poke(fd, buf, len, "sun.gc.collector.1.invocations", 8);
	poke(fd, buf, len, "sun.gc.collector.1.time", 63455163 + 80000000 + 500000000);
	poke(fd, buf, len, "sun.gc.collector.1.lastExitTime", t0 + 2700000000LL);
	memset(&s, 0, sizeof(s));
	jvm_sampler_sample(j, 5000, &s);
	is_double(s.v[M_GC_PAUSE], 0.5, 1e-12, "the ended collection: 500 ms");
	is_double(s.v[M_GC_CPU], 20.0, 1e-9, "its remaining 200 ms in the last second: 20%%");

	/* the JVM's clock did not move: hound's clock is the interval */
	memset(&s, 0, sizeof(s));
	is_int(jvm_sampler_sample(j, 6000, &s), 0, "a sample with a frozen JVM clock");
	is_double(s.v[M_GC_CPU], 0, 1e-12, "no new GC time: 0%%");
	/* the file goes away (the JVM exited): the mapping still reads */
	unlink(path);
	memset(&s, 0, sizeof(s));
	is_int(jvm_sampler_sample(j, 7000, &s), 0, "an unlinked file is still readable");
	jvm_sampler_free(j);
	ok(jvm_sampler_open("/nonexistent/hsperf", &j, err, sizeof(err)) == -ENOENT && strstr(err, "open"),
	   "missing file: -ENOENT, the error says which call: %s", err);
out:
	jvm_sampler_free(j);
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(buf);
}

static void test_status_flags(void)
{
	const char *st = "Name:\tjava\nUmask:\t0022\nPid:\t4242\nNSpid:\t4242\t1\n"
			 "Uid:\t1000\t1001\t1001\t1001\nGid:\t50\t51\t51\t51\n"
			 "SigCgt:\t0000000181005ccf\n";
	struct jvm_proc j;
	memset(&j, 0, sizeof(j));
	is_int(jvm_parse_status(st, strlen(st), &j), 0, "status parses");
	is_int(j.pid, 4242, "Pid");
	is_int(j.nspid, 1, "the innermost NSpid names the JVM's files");
	is_int(j.uid, 1001, "effective uid");
	is_int(j.gid, 51, "effective gid");
	ok(j.sigcgt & (1ULL << 2), "SIGQUIT is caught");
	const char *old = "Pid:\t77\nUid:\t0\t0\t0\t0\n";
	is_int(jvm_parse_status(old, strlen(old), &j), 0, "no NSpid line (old kernel)");
	is_int(j.nspid, 77, "then NSpid is Pid");
	ok(!(j.sigcgt & (1ULL << 2)), "no SigCgt: nothing caught");
	is_int(jvm_parse_status("Name:\tx\n", 8, &j), -EINVAL, "no Pid: -EINVAL");

	static const char argv1[] = "java\0-Xrs\0-cp\0.\0Main";
	is_int(jvm_parse_flags(argv1, sizeof(argv1), false), JVM_FLAG_XRS, "-Xrs on the command line");
	static const char argv2[] = "java\0-Xrss2m\0-XX:-UsePerfDataX\0Main";
	is_int(jvm_parse_flags(argv2, sizeof(argv2), false), 0, "-Xrss2m is not -Xrs");
	static const char argv3[] = "java\0-XX:-UsePerfData\0-XX:+PerfDisableSharedMem\0Main";
	is_int(jvm_parse_flags(argv3, sizeof(argv3), false), JVM_FLAG_NO_PERFDATA | JVM_FLAG_PERF_NO_SHM,
	       "PerfData flags");
	static const char env[] = "PATH=/bin\0OTHER=-Xrs\0JAVA_TOOL_OPTIONS=-Xmx1g -XX:+DisableAttachMechanism";
	is_int(jvm_parse_flags(env, sizeof(env), true), JVM_FLAG_NO_ATTACH,
	       "JAVA_TOOL_OPTIONS counts, other variables do not");
}

static void test_histo(void)
{
	size_t len;
	char *buf = load(FIX "histo.txt", &len);
	struct jvm_histo base, now;
	ok(buf != NULL, "read the histogram fixture");
	if (!buf)
		return;
	is_int(jvm_histo_parse(buf, len, &base), 0, "histogram parses");
	is_int(base.n, 622, "622 classes");
	is_int(base.total_bytes, 3396184, "bytes add up to the Total line");
	is_int(base.total_instances, 70867, "instances add up to the Total line");
	is_str(base.c[0].name, "[B", "the module suffix is dropped");

	/* the same heap plus a leaking class and a grown String count */
	char *more = xasprintf("%.*s 623:  100000  27200000  com.acme.LeakySession\n"
			       " 624:  1  16  java.lang.String (java.base@17)\n",
			       (int)len, buf);
	is_int(jvm_histo_parse(more, strlen(more), &now), 0, "grown histogram parses");
	struct jvm_histo_growth *g;
	size_t n;
	jvm_histo_diff(&base, &now, &g, &n);
	is_str(g[0].name, "com.acme.LeakySession", "the largest growth comes first");
	is_int(g[0].now_bytes - g[0].base_bytes, 27200000, "its growth in bytes");
	is_int(n, 623, "classes merged by name");
	free(g);
	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);
	jvm_histo_format_diff(&base, &now, "t0", "t1", f, 10);
	fclose(f);
	const char *line = text;
	while (line && *line == '#')
		line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL;
	ok(line && strstr(line, "com.acme.LeakySession") && strstr(line, "+27200000"),
	   "heap.diff.txt: the first data line is the leaking class");
	free(text);
	jvm_histo_free(&now);
	is_int(jvm_histo_parse("no histogram here\n", 18, &now), -EINVAL, "no class line: -EINVAL");
	jvm_histo_free(&now);
	jvm_histo_free(&base);
	free(more);
	free(buf);
}

static void test_threads(void)
{
	size_t len;
	char *buf = load(FIX "threads-deadlock.txt", &len);
	struct jvm_threads t;
	ok(buf != NULL, "read the thread dump fixture");
	if (!buf)
		return;
	is_int(jvmsummary_parse(buf, len, &t), 0, "thread dump parses");
	ok(t.deadlock, "the deadlock is noticed");
	const struct jvm_thread_group *dl = NULL;
	size_t vm = 0;
	for (size_t i = 0; i < t.n; i++) {
		if (strstr(t.g[i].frame, "JTarget.lambda$deadlock"))
			dl = dl ? dl : &t.g[i];
		if (!strcmp(t.g[i].state, "(VM thread)"))
			vm += t.g[i].count;
	}
	ok(dl && !strcmp(dl->state, "BLOCKED (on object monitor)"),
	   "the deadlocked threads: BLOCKED in their own lambda");
	ok(vm > 0, "VM threads without Java state form their own group");
	size_t sum = 0;
	for (size_t i = 0; i < t.n; i++)
		sum += t.g[i].count;
	is_int(sum, t.threads, "every thread in one group");
	ok(t.n >= 2 && t.g[0].count >= t.g[t.n - 1].count, "largest group first");
	int mains = 0;
	for (size_t i = 0; i < t.n; i++)
		mains += !strcmp(t.g[i].frame, "JTarget.deadlock");
	is_int(mains, 1, "main: the app frame under Thread.join is JTarget.deadlock");
	jvmsummary_free(&t);
	int bad = 0;
	for (size_t n = 0; n < len; n += 13)
		if (jvmsummary_parse(buf, n, &t) == 0)
			jvmsummary_free(&t);
		else
			bad++;
	ok(bad > 0, "truncated dumps parse or fail cleanly");
	free(buf);
}

int main(void)
{
	test_threads();
	test_parser();
	test_sampler();
	test_status_flags();
	test_histo();
	return done_testing();
}
