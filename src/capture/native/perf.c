/* perf: native CPU profiles with perf_event_open (and a ptrace fallback). */
#include "capture/native/perf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture/native/perf_profile.h"
#include "capture/native/perf_sampler.h"
#include "capture/native/symbolize.h"
#include "capture/native/unwind.h"
#include "lib/util.h"

#define DEFAULT_MS  10000
#define CAPTURE_HZ  99.0
#define FALLBACK_HZ 19.0

struct cap_state {
	perf_profile *prof;
	sym_proc *sp;
};

static void on_stack(const struct perf_stack *s, void *arg)
{
	struct cap_state *c = arg;

	perf_profile_add(c->prof, s->thread, s->ips, s->n, s->period_ns);
	/* name new program counters now: the target may be gone when the profile ends */
	perf_profile_resolve(c->prof, c->sp);
}

/* Forcing the fallback lets tests exercise it where perf_event works. */
static bool force_fallback(void)
{
	const char *e = getenv("HOUND_PERF_FORCE_FALLBACK");
	return e && strcmp(e, "1") == 0;
}

static bool fallback_errno(int rc)
{
	return rc == -EACCES || rc == -EPERM || rc == -ENOSYS || rc == -ENOENT || rc == -EOPNOTSUPP;
}

/* Writes cpu.pb.gz and cpu.folded into the bundle and registers them. */
static int write_outputs(struct capture_ctx *ctx, perf_profile *prof, int64_t wall_start_ms,
			 int64_t dur_ns, int64_t period_ns, const char *comment, char *err,
			 size_t errlen)
{
	char path[4200];
	int rc;

	snprintf(path, sizeof(path), "%s/cpu.pb.gz", bundle_dir(ctx->bundle));
	rc = perf_profile_write_pprof(prof, path, wall_start_ms * 1000000, dur_ns, period_ns,
				      comment, err, errlen);
	if (rc < 0)
		return rc;
	bundle_add_file(ctx->bundle, "cpu.pb.gz", "cpu", "pprof");
	snprintf(path, sizeof(path), "%s/cpu.folded", bundle_dir(ctx->bundle));
	rc = perf_profile_write_folded(prof, path, err, errlen);
	if (rc < 0)
		return rc;
	bundle_add_file(ctx->bundle, "cpu.folded", "cpu", "folded");
	return 0;
}

/* Threads in state R now: a ptrace sample counts only those as on CPU. */
static size_t running_tids(pid_t pid, pid_t *out, size_t max)
{
	char path[64], buf[512];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		int tid = atoi(de->d_name), fd;
		ssize_t len;
		char *p;

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'R')
			out[n++] = tid;
	}
	closedir(d);
	return n;
}

/*
 * The ptrace fallback: FALLBACK_HZ times a second, the threads that are
 * running are stopped, unwound and released by the stacks unwinder.
 */
static int fallback_capture(struct capture_ctx *ctx, int64_t dur_ms, const char *why, char *err,
			    size_t errlen)
{
	perf_profile *prof = perf_profile_new();
	unwind_session *us = unwind_session_new(ctx->pid);
	struct unwind_result res;
	sym_proc *sp = NULL;
	pid_t run[1024];
	int64_t start = util_mono_ms(), wall = util_wall_ms(),
		step_ms = (int64_t)(1000 / FALLBACK_HZ);
	int64_t period_ns = (int64_t)(1e9 / FALLBACK_HZ), ticks = 0;
	char note[256];
	int rc;

	unwind_result_init(&res);
	rc = sym_proc_open(symbolizer_shared(), ctx->pid, &sp, err, errlen);
	if (rc < 0)
		goto out;
	for (int64_t next = start; util_mono_ms() < start + dur_ms && !(ctx->stop && *ctx->stop);
	     next += step_ms) {
		int64_t now = util_mono_ms();
		size_t nrun;

		if (next > now) {
			struct timespec ts = {0, (long)(next - now) * 1000000L};
			nanosleep(&ts, NULL);
		}
		nrun = running_tids(ctx->pid, run, ARRAY_LEN(run));
		ticks++;
		if (nrun == 0) {
			if (kill(ctx->pid, 0) < 0 && errno == ESRCH)
				break;
			continue;
		}
		rc = unwind_session_capture(us, &res, err, errlen);
		if (rc == -ESRCH)
			break;
		if (rc < 0)
			goto out;
		for (size_t i = 0; i < res.nthreads; i++) {
			const struct unwind_thread *t = &res.threads[i];
			bool was_running = false;
			for (size_t k = 0; k < nrun; k++)
				was_running |= run[k] == t->tid;
			if (t->err == 0 && t->nframes > 0 && was_running)
				perf_profile_add(prof, t->name, t->ips, t->nframes, period_ns);
		}
		perf_profile_resolve(prof, sp);
	}
	snprintf(note, sizeof(note), "ptrace-fallback (%s)", why);
	bundle_add_note(ctx->bundle, "cpu.method", note);
	snprintf(note, sizeof(note), "%.0f Hz, %lld ticks, %zu samples", FALLBACK_HZ,
		 (long long)ticks, perf_profile_nsamples(prof));
	bundle_add_note(ctx->bundle, "cpu.samples", note);
	rc = write_outputs(ctx, prof, wall, (util_mono_ms() - start) * 1000000, period_ns,
			   "hound cpu profile (ptrace fallback)", err, errlen);
out:
	sym_proc_free(sp);
	unwind_result_fini(&res);
	unwind_session_free(us);
	perf_profile_free(prof);
	return rc;
}

int perf_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err, size_t errlen)
{
	int64_t dur_ms = item && item->duration_ms > 0 ? item->duration_ms : DEFAULT_MS;
	struct perf_sampler_opts o = {.hz = CAPTURE_HZ, .try_cycles = true};
	struct cap_state c = {0};
	perf_sampler *s = NULL;
	const struct perf_sampler_stats *st;
	int64_t start, wall;
	char note[256], why[200];
	int rc;

	if (force_fallback())
		return fallback_capture(ctx, dur_ms, "forced by HOUND_PERF_FORCE_FALLBACK", err,
					errlen);
	rc = perf_sampler_open(ctx->pid, &o, &s, why, sizeof(why));
	if (rc < 0 && fallback_errno(rc))
		return fallback_capture(ctx, dur_ms, why, err, errlen);
	if (rc < 0) {
		snprintf(err, errlen, "%s", why);
		return rc;
	}
	c.prof = perf_profile_new();
	rc = sym_proc_open(symbolizer_shared(), ctx->pid, &c.sp, err, errlen);
	if (rc < 0)
		goto out;
	start = util_mono_ms();
	wall = util_wall_ms();
	rc = perf_sampler_run(s, start + dur_ms, ctx->stop, on_stack, &c);
	if (rc < 0) {
		snprintf(err, errlen, "poll on perf_event fds of pid %d: %s", (int)ctx->pid,
			 strerror(-rc));
		goto out;
	}
	st = perf_sampler_stats(s);
	snprintf(note, sizeof(note), "perf_event %s %.0f Hz per thread", st->event, o.hz);
	bundle_add_note(ctx->bundle, "cpu.method", note);
	snprintf(note, sizeof(note), "fp=%llu dwarf=%llu fp-deep=%llu partial=%llu",
		 (unsigned long long)st->method[PERF_METHOD_FP],
		 (unsigned long long)st->method[PERF_METHOD_DWARF],
		 (unsigned long long)st->method[PERF_METHOD_FP_DEEP],
		 (unsigned long long)st->method[PERF_METHOD_PARTIAL]);
	bundle_add_note(ctx->bundle, "cpu.unwind", note);
	snprintf(note, sizeof(note), "%llu samples, %llu lost, %llu unreadable, %zu threads",
		 (unsigned long long)st->samples, (unsigned long long)st->lost,
		 (unsigned long long)st->dropped, st->threads_seen);
	bundle_add_note(ctx->bundle, "cpu.samples", note);
	if (st->process_gone) {
		snprintf(note, sizeof(note), "process exited after %lld ms",
			 (long long)(util_mono_ms() - start));
		bundle_add_note(ctx->bundle, "cpu.target", note);
	}
	rc = write_outputs(ctx, c.prof, wall, (util_mono_ms() - start) * 1000000,
			   (int64_t)(1e9 / o.hz), "hound cpu profile (perf_event)", err, errlen);
out:
	sym_proc_free(c.sp);
	perf_profile_free(c.prof);
	perf_sampler_free(s);
	return rc;
}
