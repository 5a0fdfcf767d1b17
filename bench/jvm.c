/*
 * bench/jvm: cost of one JVM sample (the mapped PerfData counters) next to a
 * native sample of the same process (/proc files through kept-open fds),
 * and proof that JVM sampling neither allocates nor makes the JVM reach a
 * safepoint: the JVM's own sun.rt.safepoints counter over N samples is
 * compared with the same wall time without hound.
 *
 *   jvm PID N
 * Prints "key value" lines on stdout.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/jvmperf.h"
#include "agent/proc.h"
#include "capture/jvm/jvmproc.h"
#include "lib/hsperf.h"
#include "lib/util.h"

#define BASIC_MASK (METRIC_BIT(M_CPU) | METRIC_BIT(M_RSS) | METRIC_BIT(M_THREADS))

static int64_t safepoints(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	struct hsperf_header h;
	struct hsperf_entry e;
	int64_t v = -1;
	if (util_read_file(path, &buf, &len, 1 << 22) == 0 && hsperf_parse_header(buf, len, &h) == 0 &&
	    hsperf_find(buf, len, &h, "sun.rt.safepoints", &e) == 1)
		v = hsperf_long(buf, &h, e.data_off);
	free(buf);
	return v;
}

static double now_us(void)
{
	return (double)util_mono_ns() / 1000.0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: jvm PID N\n");
		return 2;
	}
	pid_t pid = atoi(argv[1]);
	int n = atoi(argv[2]);
	struct jvm_proc j;
	char err[256];
	jvm_sampler *js;
	proc_handle *ph;
	struct proc_sample s;

	if (jvm_proc_probe(pid, false, &j) < 0 || !j.has_perf) {
		fprintf(stderr, "jvm: pid %d has no PerfData file\n", (int)pid);
		return 1;
	}
	if (jvm_sampler_open(j.perf_path, &js, err, sizeof(err)) < 0 ||
	    proc_handle_open("/proc", "/sys/fs/cgroup", pid, 0, &ph) < 0) {
		fprintf(stderr, "jvm: %s\n", err);
		return 1;
	}
	/* warm both paths: first samples open files and resolve offsets */
	for (int i = 0; i < 10; i++) {
		jvm_sampler_sample(js, util_mono_ms(), &s);
		proc_handle_sample(ph, NULL, BASIC_MASK, util_mono_ms(), util_wall_ms(), &s);
		proc_handle_sample(ph, NULL, PROC_NATIVE_MASK, util_mono_ms(), util_wall_ms(), &s);
	}

	/* the safepoint count while hound samples the JVM at 1 kHz ... */
	int64_t sp0 = safepoints(j.perf_path);
	struct mallinfo2 m0 = mallinfo2();
	double t0 = now_us(), busy = 0;
	for (int i = 0; i < n; i++) {
		double a = now_us();
		jvm_sampler_sample(js, util_mono_ms(), &s);
		busy += now_us() - a;
		struct timespec ts = {0, 1000000L};
		nanosleep(&ts, NULL);
	}
	double wall = now_us() - t0;
	struct mallinfo2 m1 = mallinfo2();
	int64_t sp1 = safepoints(j.perf_path);
	/* ... and over the same wall time without hound */
	struct timespec rest = {(time_t)(wall / 1e6), (long)((wall - (double)(time_t)(wall / 1e6) * 1e6) * 1000)};
	nanosleep(&rest, NULL);
	int64_t sp2 = safepoints(j.perf_path);

	double t1 = now_us();
	for (int i = 0; i < n; i++)
		proc_handle_sample(ph, NULL, BASIC_MASK, util_mono_ms(), util_wall_ms(), &s);
	double basic = (now_us() - t1) / n;
	t1 = now_us();
	for (int i = 0; i < n; i++)
		proc_handle_sample(ph, NULL, PROC_NATIVE_MASK, util_mono_ms(), util_wall_ms(), &s);
	double full = (now_us() - t1) / n;

	printf("jvm_us %.3f\n", busy / n);
	printf("native_basic_us %.3f\n", basic);
	printf("native_full_us %.3f\n", full);
	printf("samples %d\n", n);
	printf("window_s %.1f\n", wall / 1e6);
	printf("safepoints_sampling %lld\n", (long long)(sp1 - sp0));
	printf("safepoints_idle %lld\n", (long long)(sp2 - sp1));
	printf("alloc_bytes %lld\n", (long long)(m1.uordblks - m0.uordblks));
	jvm_sampler_free(js);
	proc_handle_free(ph);
	return 0;
}
