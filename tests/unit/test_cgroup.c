/* Unit tests for cgroup resolution on v1, v2 and hybrid fixture trees. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lib/cgroup.h"
#include "tap.h"

#define CG TOP_SRCDIR "/tests/fixtures/cgroup/"

static cgroup_view *open_view(const char *root, const char *content)
{
	cgroup_view *v = NULL;
	int r = cgroup_view_open(root, content, strlen(content), &v);

	if (r < 0)
		printf("# cgroup_view_open(%s): %d\n", root, r);
	return v;
}

static void test_v2(void)
{
	cgroup_view *v;
	double psi = -1;

	is_int(cgroup_detect(CG "v2"), CGROUP_V2, "v2 tree detected");
	v = open_view(CG "v2", "0::/system.slice/api.service\n");
	ok(v != NULL, "v2 view opens");
	if (!v)
		return;
	is_int(cgroup_view_layout(v), CGROUP_V2, "layout v2");
	is_int(cgroup_view_mem_limit(v), 536870912, "memory.max of the service");
	is_double(cgroup_view_cpu_quota(v), 1.5, 1e-9, "cpu.max 150000/100000 = 1.5 cores");
	is_str(cgroup_view_path_line(v), "0::/system.slice/api.service", "path line");
	is_int(cgroup_view_psi(v, CGROUP_PSI_CPU, &psi), 0, "cpu.pressure read");
	is_double(psi, 3.25, 1e-9, "cpu.pressure some avg10");
	is_int(cgroup_view_psi(v, CGROUP_PSI_MEMORY, &psi), 0, "memory.pressure read");
	is_double(psi, 42.0, 1e-9, "memory.pressure some avg10");
	is_int(cgroup_view_psi(v, CGROUP_PSI_MEMORY, &psi), 0, "memory.pressure re-read (kept fd)");
	cgroup_view_free(v);

	/* Ancestors: kubepods 1GiB / 0.5 cores, pod unlimited / 2 cores, ctr 2GiB / max. */
	v = open_view(CG "v2", "0::/kubepods/pod1/ctr\n");
	ok(v != NULL, "nested v2 view opens");
	if (v) {
		is_int(cgroup_view_mem_limit(v), 1073741824,
		       "tightest memory limit is an ancestor's");
		is_double(cgroup_view_cpu_quota(v), 0.5, 1e-9,
			  "tightest cpu quota is an ancestor's");
		is_int(cgroup_view_psi(v, CGROUP_PSI_CPU, &psi), -ENOENT,
		       "no per-cgroup pressure file: -ENOENT");
		cgroup_view_free(v);
	}

	v = open_view(CG "v2", "0::/\n");
	ok(v != NULL, "root v2 view opens");
	if (v) {
		ok(cgroup_view_mem_limit(v) == UINT64_MAX, "root cgroup: no memory limit");
		is_double(cgroup_view_cpu_quota(v), 0, 0, "root cgroup: no cpu quota");
		is_int(cgroup_view_psi(v, CGROUP_PSI_CPU, &psi), -ENOENT,
		       "root cgroup PSI defers to /proc/pressure");
		cgroup_view_free(v);
	}

	v = open_view(CG "v2", "0::/broken\n");
	ok(v != NULL, "cgroup with unparsable limit files opens");
	if (v) {
		ok(cgroup_view_mem_limit(v) == UINT64_MAX, "garbage memory.max is ignored");
		is_double(cgroup_view_cpu_quota(v), 0, 0, "garbage cpu.max is ignored");
		cgroup_view_free(v);
	}

	v = open_view(CG "v2", "0::/../system.slice/api.service\n");
	ok(v != NULL, "a path from outside our cgroup namespace opens");
	if (v) {
		ok(cgroup_view_mem_limit(v) == UINT64_MAX, "'..' paths are never resolved");
		is_int(cgroup_view_psi(v, CGROUP_PSI_CPU, &psi), -ENOENT, "nor their PSI files");
		cgroup_view_free(v);
	}

	v = open_view(CG "v2", "0::/no/such/group\n");
	ok(v != NULL, "missing cgroup directory is not an error");
	if (v) {
		ok(cgroup_view_mem_limit(v) == UINT64_MAX, "missing cgroup: no limit");
		cgroup_view_free(v);
	}
}

static void test_v1(void)
{
	const char *content = "12:pids:/kubepods/burstable/pod1234/abc\n"
			      "11:memory:/kubepods/burstable/pod1234/abc\n"
			      "10:cpu,cpuacct:/kubepods/burstable/pod1234/abc\n"
			      "1:name=systemd:/kubepods/burstable/pod1234/abc\n";
	cgroup_view *v;
	double psi;

	is_int(cgroup_detect(CG "v1"), CGROUP_V1, "v1 tree detected");
	v = open_view(CG "v1", content);
	ok(v != NULL, "v1 view opens");
	if (!v)
		return;
	is_int(cgroup_view_mem_limit(v), 268435456, "memory.limit_in_bytes");
	is_double(cgroup_view_cpu_quota(v), 0.5, 1e-9, "cfs quota 50000/100000 under cpu,cpuacct");
	is_str(cgroup_view_path_line(v), "11:memory:/kubepods/burstable/pod1234/abc",
	       "path line is the memory controller's");
	is_int(cgroup_view_psi(v, CGROUP_PSI_MEMORY, &psi), -ENOENT, "no cgroup PSI on v1");
	cgroup_view_free(v);

	v = open_view(CG "v1", "11:memory:/unlimited\n10:cpu,cpuacct:/\n");
	ok(v != NULL, "unlimited v1 view opens");
	if (v) {
		ok(cgroup_view_mem_limit(v) == UINT64_MAX, "v1 huge limit means unlimited");
		is_double(cgroup_view_cpu_quota(v), 0, 0, "cfs_quota_us -1 means no quota");
		cgroup_view_free(v);
	}
}

static void test_hybrid(void)
{
	const char *content = "9:name=systemd:/\n4:memory:/process_api/c6653cd0\n2:cpuacct:/\n"
			      "1:cpu:/process_api/c6653cd0\n0::/process_api/c6653cd0\n";
	cgroup_view *v;
	double psi = -1;

	is_int(cgroup_detect(CG "hybrid"), CGROUP_HYBRID, "hybrid tree detected");
	v = open_view(CG "hybrid", content);
	ok(v != NULL, "hybrid view opens");
	if (!v)
		return;
	is_int(cgroup_view_mem_limit(v), 1073741824, "memory limit from the v1 controller");
	is_double(cgroup_view_cpu_quota(v), 2.0, 1e-9, "cpu quota from the v1 controller");
	is_int(cgroup_view_psi(v, CGROUP_PSI_CPU, &psi), 0, "cpu PSI from unified/");
	is_double(psi, 1.5, 1e-9, "unified cpu.pressure value");
	is_int(cgroup_view_psi(v, CGROUP_PSI_MEMORY, &psi), 0, "memory PSI from unified/");
	is_double(psi, 0.75, 1e-9, "unified memory.pressure value");
	is_str(cgroup_view_path_line(v), "4:memory:/process_api/c6653cd0", "hybrid path line");
	cgroup_view_free(v);
}

static void test_bad(void)
{
	cgroup_view *v = (cgroup_view *)1;

	is_int(cgroup_view_open(CG "v2", "garbage\n", 8, &v), -EINVAL, "malformed content");
	ok(v == NULL, "no view on error");
	is_int(cgroup_detect(CG "nonexistent"), CGROUP_NONE, "nothing mounted");
	v = open_view(CG "nonexistent", "0::/x\n");
	ok(v != NULL && cgroup_view_mem_limit(v) == UINT64_MAX, "no cgroupfs: no limits");
	cgroup_view_free(v);
	v = open_view(CG "v2", "");
	ok(v != NULL && cgroup_view_mem_limit(v) == UINT64_MAX, "empty content: no limits");
	cgroup_view_free(v);
}

int main(void)
{
	test_v2();
	test_v1();
	test_hybrid();
	test_bad();
	return done_testing();
}
