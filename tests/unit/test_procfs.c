/* Unit tests for the pure /proc and cgroup file parsers, on fixture files. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/procfs.h"
#include "lib/util.h"
#include "tap.h"

#define FIX TOP_SRCDIR "/tests/fixtures/proc/"

static char *fixture(const char *name, size_t *len)
{
	char *buf;

	if (util_read_file(name, &buf, len, 1 << 20) < 0) {
		printf("Bail out! cannot read fixture %s\n", name);
		exit(1);
	}
	return buf;
}

/* Every prefix and every single-byte corruption of buf must parse or fail cleanly. */
static int hammer(const char *buf, size_t len, int (*parse)(const char *, size_t, void *),
		  void *out)
{
	char tmp[8192];
	int fails = 0;

	if (len > sizeof(tmp))
		return -1;
	for (size_t n = 0; n <= len; n++)
		fails += parse(buf, n, out) < 0;
	for (size_t i = 0; i < len; i++) {
		memcpy(tmp, buf, len);
		tmp[i] = (char)(i * 37 + 11);
		(void)parse(tmp, len, out);
	}
	return fails;
}

static int p_stat(const char *b, size_t l, void *o)
{
	return procfs_parse_stat(b, l, o);
}
static int p_status(const char *b, size_t l, void *o)
{
	return procfs_parse_status(b, l, o);
}
static int p_psi(const char *b, size_t l, void *o)
{
	return procfs_parse_psi_some_avg10(b, l, o);
}
static int p_cg(const char *b, size_t l, void *o)
{
	return procfs_cgroup_find(b, l, "memory", o);
}

static void test_stat(void)
{
	struct procfs_stat st;
	size_t len;
	char *b;

	b = fixture(FIX "stat.normal", &len);
	is_int(procfs_parse_stat(b, len, &st), 0, "stat.normal parses");
	is_int(st.pid, 10340, "pid");
	is_str(st.comm, "sleep", "comm");
	is_int(st.state, 'S', "state");
	is_int(st.ppid, 10338, "ppid");
	is_int(st.flags, 4194368, "flags");
	is_int(st.utime, 1234, "utime");
	is_int(st.stime, 567, "stime");
	is_int(st.num_threads, 3, "num_threads");
	is_int(st.start_ticks, 43290, "start_ticks");
	is_int(st.rss_pages, 444, "rss pages");
	/* A prefix parses exactly when it reaches a digit of field 24 (rss). */
	is_int(hammer(b, len, p_stat, &st), (int)(strstr(b, " 444 ") + 2 - b),
	       "prefixes before field 24 fail, the rest parse, none crash");
	free(b);

	b = fixture(FIX "stat.spaces", &len);
	is_int(procfs_parse_stat(b, len, &st), 0, "comm with spaces parses");
	is_str(st.comm, "my prog name", "comm with spaces");
	is_int(st.start_ticks, 43290, "fields after a spaced comm");
	free(b);

	b = fixture(FIX "stat.hostile", &len);
	is_int(procfs_parse_stat(b, len, &st), 0, "comm 'x) R 1 (y' parses");
	is_str(st.comm, "x) R 1 (y", "hostile comm kept whole");
	is_int(st.state, 'S', "state after hostile comm");
	is_int(st.num_threads, 3, "threads after hostile comm");
	free(b);

	b = fixture(FIX "stat.parens", &len);
	is_int(procfs_parse_stat(b, len, &st), 0, "comm of parentheses parses");
	is_str(st.comm, ")) (((", "comm ')) ((('");
	free(b);

	b = fixture(FIX "stat.truncated", &len);
	is_int(procfs_parse_stat(b, len, &st), -EINVAL, "truncated stat is -EINVAL");
	free(b);
	b = fixture(FIX "stat.noclose", &len);
	is_int(procfs_parse_stat(b, len, &st), -EINVAL, "comm without ')' is -EINVAL");
	free(b);
	b = fixture(FIX "stat.garbage", &len);
	is_int(procfs_parse_stat(b, len, &st), -EINVAL, "garbage number is -EINVAL");
	free(b);
	is_int(procfs_parse_stat("", 0, &st), -EINVAL, "empty stat");
	is_int(procfs_parse_stat("-5 (a) S", 8, &st), -EINVAL, "negative pid");
}

static void test_status_statm_schedstat(void)
{
	struct procfs_status ps;
	struct procfs_statm sm;
	struct procfs_schedstat ss;
	size_t len;
	char *b;

	b = fixture(FIX "status.normal", &len);
	is_int(procfs_parse_status(b, len, &ps), 0, "status parses");
	is_int(ps.ruid, 1000, "real uid");
	is_int(ps.euid, 1001, "effective uid");
	is_int(ps.threads, 7, "Threads");
	ok(ps.has_rss_anon, "RssAnon present");
	is_int(ps.rss_anon, 480 * 1024, "RssAnon in bytes");
	/* Uid and Threads are required: a prefix parses once it holds Threads' digit. */
	is_int(hammer(b, len, p_status, &ps), (int)(strstr(b, "Threads:\t7") + 9 - b + 1),
	       "status prefixes without Threads fail, none crash");
	free(b);

	b = fixture(FIX "status.kthread", &len);
	is_int(procfs_parse_status(b, len, &ps), 0, "kernel thread status parses");
	ok(!ps.has_rss_anon, "no RssAnon for a kernel thread");
	free(b);
	b = fixture(FIX "status.nothreads", &len);
	is_int(procfs_parse_status(b, len, &ps), -EINVAL, "status without Threads is -EINVAL");
	free(b);
	b = fixture(FIX "status.garbage", &len);
	is_int(procfs_parse_status(b, len, &ps), -EINVAL, "garbage RssAnon is -EINVAL");
	free(b);

	b = fixture(FIX "statm.normal", &len);
	is_int(procfs_parse_statm(b, len, &sm), 0, "statm parses");
	is_int(sm.size, 1122, "statm size");
	is_int(sm.resident, 491, "statm resident");
	free(b);
	b = fixture(FIX "statm.truncated", &len);
	is_int(procfs_parse_statm(b, len, &sm), -EINVAL, "truncated statm is -EINVAL");
	free(b);

	b = fixture(FIX "schedstat.normal", &len);
	is_int(procfs_parse_schedstat(b, len, &ss), 0, "schedstat parses");
	is_int(ss.run_ns, 631043, "run ns");
	is_int(ss.wait_ns, 90210, "wait ns");
	is_int(ss.slices, 2, "slices");
	free(b);
	b = fixture(FIX "schedstat.truncated", &len);
	is_int(procfs_parse_schedstat(b, len, &ss), -EINVAL, "truncated schedstat is -EINVAL");
	free(b);
}

static void test_psi_meminfo_btime(void)
{
	double v = -1;
	uint64_t total;
	int64_t bt;
	size_t len;
	char *b;

	b = fixture(FIX "psi.cpu", &len);
	is_int(procfs_parse_psi_some_avg10(b, len, &v), 0, "psi cpu parses");
	is_double(v, 2.37, 1e-9, "some avg10");
	is_int(hammer(b, len, p_psi, &v), (int)strlen("some avg10=2"),
	       "psi prefixes without a digit of avg10 fail, none crash");
	free(b);
	b = fixture(FIX "psi.memory", &len);
	is_int(procfs_parse_psi_some_avg10(b, len, &v), 0, "psi memory parses");
	is_double(v, 12.5, 1e-9, "some avg10, not full");
	free(b);
	b = fixture(FIX "psi.truncated", &len);
	is_int(procfs_parse_psi_some_avg10(b, len, &v), -EINVAL, "truncated psi is -EINVAL");
	free(b);
	b = fixture(FIX "psi.garbage", &len);
	is_int(procfs_parse_psi_some_avg10(b, len, &v), -EINVAL, "garbage psi is -EINVAL");
	free(b);

	b = fixture(FIX "meminfo", &len);
	is_int(procfs_parse_meminfo_total(b, len, &total), 0, "meminfo parses");
	is_int(total, UINT64_C(24731708) * 1024, "MemTotal in bytes");
	free(b);
	is_int(procfs_parse_meminfo_total("MemFree: 1 kB\n", 14, &total), -EINVAL,
	       "meminfo without MemTotal");

	b = fixture(FIX "proc_stat", &len);
	is_int(procfs_parse_btime(b, len, &bt), 0, "btime parses");
	is_int(bt, 1795297210, "btime value");
	free(b);
}

static void test_cgroup_lines(void)
{
	struct procfs_cgroup_line l;
	size_t len;
	char *b;

	b = fixture(FIX "cgroup.v2", &len);
	is_int(procfs_cgroup_find(b, len, NULL, &l), 0, "v2 line found");
	ok(l.path_len == strlen("/system.slice/api.service") &&
	       memcmp(l.path, "/system.slice/api.service", l.path_len) == 0,
	   "v2 path");
	is_int(procfs_cgroup_find(b, len, "memory", &l), -ENOENT, "no memory line in pure v2");
	free(b);

	b = fixture(FIX "cgroup.v1", &len);
	is_int(procfs_cgroup_find(b, len, "cpu", &l), 0, "cpu found in 'cpu,cpuacct'");
	is_int(l.hier, 10, "hierarchy id");
	ok(l.controllers_len == 11 && memcmp(l.controllers, "cpu,cpuacct", 11) == 0,
	   "controllers field");
	is_int(procfs_cgroup_find(b, len, "cpuacct", &l), 0, "cpuacct found in 'cpu,cpuacct'");
	is_int(procfs_cgroup_find(b, len, "memory", &l), 0, "memory line");
	is_int(procfs_cgroup_find(b, len, "systemd", &l), -ENOENT, "name=systemd is not 'systemd'");
	is_int(procfs_cgroup_find(b, len, NULL, &l), -ENOENT, "no v2 line in pure v1");
	is_int(hammer(b, len, p_cg, &l), (int)(strstr(b, "11:memory:/") + 11 - b),
	       "cgroup prefixes before the memory line's path fail, none crash");
	free(b);

	b = fixture(FIX "cgroup.hybrid", &len);
	is_int(procfs_cgroup_find(b, len, NULL, &l), 0, "hybrid has a v2 line");
	is_int(procfs_cgroup_find(b, len, "memory", &l), 0, "hybrid has a memory line");
	free(b);
	b = fixture(FIX "cgroup.garbage", &len);
	is_int(procfs_cgroup_find(b, len, "memory", &l), -EINVAL, "line without path is -EINVAL");
	free(b);
}

static void test_limits(void)
{
	int64_t q, p, i;
	uint64_t m;

	is_int(procfs_parse_cpu_max("max 100000\n", 11, &q, &p), 0, "cpu.max max");
	is_int(q, -1, "max means no quota");
	is_int(p, 100000, "period");
	is_int(procfs_parse_cpu_max("200000 100000\n", 14, &q, &p), 0, "cpu.max quota");
	is_int(q, 200000, "quota");
	is_int(procfs_parse_cpu_max("100000\n", 7, &q, &p), -EINVAL, "cpu.max without period");
	is_int(procfs_parse_cpu_max("maxi 1\n", 7, &q, &p), -EINVAL, "cpu.max garbage");
	is_int(procfs_parse_int64("-1\n", 3, &i), 0, "cfs_quota_us -1");
	is_int(i, -1, "-1 value");
	is_int(procfs_parse_int64("12a\n", 4, &i), -EINVAL, "int garbage");
	is_int(procfs_parse_int64("99999999999999999999\n", 21, &i), -EINVAL, "int overflow");
	is_int(procfs_parse_mem_limit("max\n", 4, &m), 0, "memory.max max");
	ok(m == PROCFS_UNLIMITED, "max is unlimited");
	is_int(procfs_parse_mem_limit("536870912\n", 10, &m), 0, "memory.max bytes");
	is_int(m, 536870912, "limit value");
	is_int(procfs_parse_mem_limit("9223372036854771712\n", 20, &m), 0, "v1 huge value");
	ok(m == PROCFS_UNLIMITED, "v1 page-counter maximum is unlimited");
	is_int(procfs_parse_mem_limit("", 0, &m), -EINVAL, "empty limit");
	is_int(procfs_parse_mem_limit("1 2\n", 4, &m), -EINVAL, "two numbers");
}

int main(void)
{
	test_stat();
	test_status_statm_schedstat();
	test_psi_meminfo_btime();
	test_cgroup_lines();
	test_limits();
	return done_testing();
}
