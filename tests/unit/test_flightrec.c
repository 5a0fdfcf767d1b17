/* Tests the flight recorder against a real spinning child process. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/native/flightrec.h"
#include "lib/pprof_decode.h"
#include "lib/util.h"
#include "tap.h"

#define NOINLINE __attribute__((noinline, noclone))

static volatile uint64_t sink;

NOINLINE static uint64_t fr_leaf(uint64_t x)
{
	for (int i = 0; i < 100000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	__asm__ volatile("" ::: "memory");
	return x;
}

NOINLINE static void fr_loop(void)
{
	for (;;)
		sink += fr_leaf(sink);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Samples whose chain holds fr_leaf called from fr_loop. */
static size_t chain_samples(const struct pprof_profile *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pprof_sample *s = &p->samples[i];
		int k = 0;
		for (size_t j = 0; j < s->nlocs && k < 2; j++) {
			const struct pprof_location *l = &p->locations[s->locs[j]];
			const char *name = l->nlines ? p->functions[l->lines[0].func].name : "";
			if (strcmp(name, k == 0 ? "fr_leaf" : "fr_loop") == 0)
				k++;
		}
		if (k == 2)
			n += (size_t)s->values[0];
	}
	return n;
}

int main(void)
{
	char dir[] = "/tmp/hound-flightrec.XXXXXX", err[256], *path;
	flightrec *f = NULL, *tiny = NULL;
	struct pprof_profile *p = NULL;
	size_t mem1, mem2, total_written;
	uint64_t recorded;
	pid_t child;
	int rc;

	child = fork();
	if (child == 0) {
		fr_loop();
		_exit(0);
	}
	rc = flightrec_new(child, 99, 1000, &f);
	if (rc == -EACCES || rc == -EPERM || rc == -ENOSYS) {
		printf("1..0 # SKIP perf_event_open not allowed here (%s)\n", strerror(-rc));
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return 0;
	}
	is_int(rc, 0, "flightrec_new on a live process");
	/* keep 1 ms: the ring is at its floor size and wraps many times */
	is_int(flightrec_new(child, 99, 1, &tiny), 0, "a second recorder with a tiny ring");
	sleep_ms(1200);
	mem1 = flightrec_memory(f);
	sleep_ms(1300);
	mem2 = flightrec_memory(f);
	is_int(mem2, mem1, "memory does not grow while recording (%zu bytes)", mem1);
	ok(mem1 < 1024 * 1024, "memory for 99 Hz x 1 s is under 1 MiB");
	recorded = flightrec_samples(f);
	ok(recorded > 0, "samples recorded (%llu)", (unsigned long long)recorded);
	/* wait (not a timing assertion) until the 4 KiB ring has wrapped a few times */
	for (int i = 0; i < 300 && flightrec_samples(tiny) < 150; i++)
		sleep_ms(100);
	ok(flightrec_samples(tiny) >= 150, "the tiny ring took more samples than it holds");
	ok(flightrec_memory(tiny) <= 16 * 1024 + 64 * 1024, "the tiny ring stays tiny");

	ok(mkdtemp(dir) != NULL, "temp dir");
	is_int(flightrec_write(f, dir, util_mono_ms(), err, sizeof(err)), 0, "write: %s", err);
	path = xasprintf("%s/cpu.before.pb.gz", dir);
	is_int(pprof_decode_file(path, 0, &p, err, sizeof(err)), 0, "cpu.before.pb.gz decodes");
	if (p) {
		total_written = 0;
		for (size_t i = 0; i < p->nsamples; i++)
			total_written += (size_t)p->samples[i].values[0];
		ok(total_written > 0, "the window has samples (%zu)", total_written);
		ok(total_written < recorded, "only the last keep seconds are written (%zu of %llu)",
		   total_written, (unsigned long long)recorded);
		ok(chain_samples(p) * 10 >= total_written * 9, "fr_loop -> fr_leaf in >= 90%%");
		is_int(p->period, 1000000000 / 99, "period is the sampling interval");
		pprof_free(p);
	}
	/* a window before anything was recorded is empty but valid */
	is_int(flightrec_write(tiny, dir, util_mono_ms() - 60000, err, sizeof(err)), 0,
	       "write of an empty window");
	p = NULL;
	is_int(pprof_decode_file(path, 0, &p, err, sizeof(err)), 0, "empty profile decodes");
	if (p) {
		is_int(p->nsamples, 0, "no samples in it");
		pprof_free(p);
	}
	flightrec_free(tiny);
	flightrec_free(f);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	/*
	 * The process dies, and is reaped, before the profile is written (as when
	 * a target exits during the capture): its /proc/PID/maps is gone, yet
	 * the profile is named from the mappings kept while it lived.
	 */
	flightrec *g = NULL;
	child = fork();
	if (child == 0) {
		fr_loop();
		_exit(0);
	}
	is_int(flightrec_new(child, 99, 5000, &g), 0, "a recorder on a process that will die");
	for (int i = 0; i < 300 && flightrec_samples(g) < 50; i++)
		sleep_ms(100);
	int64_t fired = util_mono_ms();
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	char procdir[32];
	snprintf(procdir, sizeof(procdir), "/proc/%d", (int)child);
	ok(access(procdir, F_OK) != 0, "the process is gone and reaped");
	is_int(flightrec_write(g, dir, fired, err, sizeof(err)), 0, "write after death: %s", err);
	p = NULL;
	is_int(pprof_decode_file(path, 0, &p, err, sizeof(err)), 0, "it decodes");
	if (p) {
		total_written = 0;
		for (size_t i = 0; i < p->nsamples; i++)
			total_written += (size_t)p->samples[i].values[0];
		ok(total_written > 0, "it has samples (%zu)", total_written);
		ok(chain_samples(p) * 10 >= total_written * 9,
		   "they are named, not <unknown>: fr_loop -> fr_leaf in %zu of %zu",
		   chain_samples(p), total_written);
		pprof_free(p);
	}
	flightrec_free(g);
	util_rm_rf(dir);
	free(path);
	flightrec_free(NULL);
	done_testing();
}
