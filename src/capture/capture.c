/* capture: capture jobs and the dispatch from a capture kind to its module. */
#include "capture/capture.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/cmdcapture.h"
#include "capture/go/gocapture.h"
#include "capture/native/core.h"
#include "capture/jvm/jvmcapture.h"
#include "capture/native/flightrec.h"
#include "capture/native/fds.h"
#include "capture/native/heapnative.h"
#include "capture/native/locks.h"
#include "capture/native/perf.h"
#include "capture/native/privhint.h"
#include "capture/native/stacks.h"
#include "lib/log.h"
#include "lib/util.h"

/* Picks the module for a kind on this kind of target; NULL when none applies. */
static capture_fn pick(enum capture_kind k, bool go, bool jvm)
{
	switch (k) {
	case K_STACKS:
		return stacks_capture;
	case K_CPU:
		return go ? go_capture : jvm ? jvm_capture : perf_capture;
	case K_HEAP:
		return go ? go_capture : jvm ? jvm_capture : heapnative_capture;
	case K_HEAP_DUMP:
		return jvm ? jvm_capture : NULL;
	case K_COMMAND:
		return command_capture;
	case K_LOCKS:
		return locks_capture;
	case K_FDS:
		return fds_capture;
	case K_CORE:
		return core_capture; /* a Go service is a native process too */
	case K_GOROUTINES:
	case K_ALLOCS:
	case K_BLOCK:
	case K_MUTEX:
	case K_THREADCREATE:
	case K_TRACE:
		return go ? go_capture : NULL;
	case K_COUNT:
		break;
	}
	return NULL;
}

int capture_run_item(struct capture_ctx *ctx, const struct capture_item *item)
{
	const char *kind = capture_kind_name(item->kind);
	bool go = ctx->go_url != NULL;
	capture_fn fn = pick(item->kind, go, ctx->jvm);
	char err[1024] = "";
	int64_t t0 = util_mono_ms();
	int rc;

	if (!fn) {
		if (capture_kind_jvm_only(item->kind))
			bundle_add_error(ctx->bundle, kind, "%s needs a JVM target: pid %d is not a HotSpot JVM%s",
					 kind, (int)ctx->pid, go ? " (the target is a Go one)" : "");
		else
			bundle_add_error(ctx->bundle, kind, "%s needs a Go target (go.url)", kind);
		return -EINVAL;
	}
	rc = fn(ctx, item, err, sizeof(err));
	/* On a Go target, stacks also carries the goroutine dump. */
	if (item->kind == K_STACKS && go) {
		char gerr[1024] = "";
		int grc = go_capture(ctx, item, gerr, sizeof(gerr));
		if (grc < 0)
			bundle_add_error(ctx->bundle, "goroutines", "%s", gerr[0] ? gerr : strerror(-grc));
	}
	/* Go heaps too: LazyFree in smaps_rollup explains RSS the heap profile does not */
	if (item->kind == K_HEAP && go && ctx->pid > 0)
		heapnative_rollup(ctx);
	/* On a JVM, stacks also carries the JVM's own thread dump (names, states, monitors). */
	if (item->kind == K_STACKS && ctx->jvm) {
		char jerr[1024] = "";
		int jrc = jvm_capture(ctx, item, jerr, sizeof(jerr));
		if (jrc < 0)
			bundle_add_error(ctx->bundle, "threads", "%s", jerr[0] ? jerr : strerror(-jrc));
	}
	if (rc < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		if (!go && (rc == -EPERM || rc == -EACCES) && !strstr(err, ": process ") &&
		    !strstr(err, "hound lacks") && !strstr(err, "already traced")) {
			/* say what actually refused us, checked now, not a guess */
			char hint[320];
			privhint_explain(ctx->pid, item->kind == K_CPU ? PRIVHINT_PERF : PRIVHINT_PTRACE,
					 ctx->comm, hint, sizeof(hint));
			size_t el = strlen(err);
			snprintf(err + el, sizeof(err) - el, ": %s", hint);
		}
		bundle_add_error(ctx->bundle, kind, "%s", err);
		log_warn("capture kind failed", "target=%s pid=%d bundle=%s kind=%s error=%s",
			 ctx->target_name ? ctx->target_name : "-", (int)ctx->pid, bundle_id(ctx->bundle),
			 kind, err);
	} else {
		log_debug("capture kind done", "bundle=%s kind=%s pid=%d ms=%lld",
			  bundle_id(ctx->bundle), kind, (int)ctx->pid, (long long)(util_mono_ms() - t0));
	}
	return rc;
}

struct capture_job *capture_job_new(const char *target, const char *parent_dir)
{
	struct capture_job *job = xcalloc(1, sizeof(*job));
	job->target = xstrdup(target);
	job->parent_dir = xstrdup(parent_dir);
	job->trig.kind = TRIGGER_MANUAL;
	return job;
}

static void free_labels(const struct label *cl, size_t n)
{
	struct label *l = (struct label *)cl;
	for (size_t i = 0; i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

struct label *capture_labels_copy(const struct label *l, size_t n)
{
	struct label *c = n ? xcalloc(n, sizeof(*c)) : NULL;
	for (size_t i = 0; i < n; i++) {
		c[i].key = xstrdup(l[i].key);
		c[i].value = xstrdup(l[i].value ? l[i].value : "");
	}
	return c;
}

void capture_job_set_labels(struct capture_job *job, const struct label *l, size_t n)
{
	free_labels(job->labels, job->nlabels);
	job->labels = capture_labels_copy(l, n);
	job->nlabels = n;
}

static void replace(const char **slot, const char *v)
{
	free((char *)*slot);
	*slot = v ? xstrdup(v) : NULL;
}

void capture_job_set_trigger_text(struct capture_job *job, const char *rule, const char *condition,
				  const char *reason)
{
	replace(&job->trig.rule, rule);
	replace(&job->trig.condition, condition);
	replace(&job->trig.reason, reason);
}

void capture_list_copy(struct capture_list *dst, const struct capture_list *src)
{
	dst->n = src->n;
	dst->items = src->n ? xcalloc(src->n, sizeof(*dst->items)) : NULL;
	for (size_t i = 0; i < src->n; i++) {
		dst->items[i] = src->items[i];
		if (!src->items[i].argv)
			continue;
		size_t argc = 0;
		while (src->items[i].argv[argc])
			argc++;
		dst->items[i].argv = xcalloc(argc + 1, sizeof(char *));
		for (size_t a = 0; a < argc; a++)
			dst->items[i].argv[a] = xstrdup(src->items[i].argv[a]);
	}
}

void capture_job_free(struct capture_job *job)
{
	if (!job)
		return;
	if (job->bundle)
		bundle_abort(job->bundle);
	flightrec_free(job->flight);
	free(job->target);
	free(job->parent_dir);
	free(job->go_url);
	free(job->baseline_dir);
	capture_list_fini(&job->items);
	free((char *)job->proc.comm);
	free((char *)job->proc.cmdline);
	free((char *)job->proc.exe);
	free((char *)job->proc.cgroup);
	free((char *)job->trig.rule);
	free((char *)job->trig.condition);
	free((char *)job->trig.reason);
	free((struct history_point *)job->trig.history);
	free_labels(job->trig.alert_labels, job->trig.nalert_labels);
	free_labels(job->trig.alert_annotations, job->trig.nalert_annotations);
	free((char *)job->trig.alert_generator_url);
	free_labels(job->labels, job->nlabels);
	free(job);
}

int capture_job_read_process(struct capture_job *job, pid_t pid)
{
	char *stat = util_read_proc_text(pid, "stat");
	if (!stat)
		return -ESRCH;
	job->proc.pid = pid;
	/* Field 22 (starttime) counts from the last ')' of the comm. */
	const char *p = strrchr(stat, ')');
	unsigned long long ticks = 0;
	if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			&ticks) == 1) {
		job->proc.start_ticks = ticks;
		char *uptime = NULL;
		double up = 0;
		long hz = sysconf(_SC_CLK_TCK);
		if (util_read_file("/proc/uptime", &uptime, NULL, 4096) == 0 && sscanf(uptime, "%lf", &up) == 1)
			job->proc.start_wall_ms =
				util_wall_ms() - (int64_t)(up * 1000) + (int64_t)(ticks * 1000 / (unsigned long long)hz);
		free(uptime);
	}
	free(stat);
	replace(&job->proc.comm, NULL);
	job->proc.comm = util_read_proc_text(pid, "comm");
	free((char *)job->proc.cmdline);
	job->proc.cmdline = util_read_proc_text(pid, "cmdline");
	free((char *)job->proc.cgroup);
	job->proc.cgroup = util_read_proc_text(pid, "cgroup");
	free((char *)job->proc.exe);
	job->proc.exe = util_read_proc_exe(pid);
	return 0;
}

/*
 * Quick kinds first so a 30 s profile does not delay the stacks of the
 * moment. A native heap samples page faults for its duration: a profile.
 */
static int item_order(const struct capture_item *it, bool go)
{
	switch (it->kind) {
	case K_STACKS: return 0;
	case K_LOCKS: return 0;
	case K_GOROUTINES: return 1;
	case K_HEAP: return go ? 2 : 5;
	case K_HEAP_DUMP: return 3;
	case K_COMMAND: return 4;
	case K_CORE: return 6; /* last: the longest, and it freezes the target briefly */
	case K_CPU:
	case K_TRACE: return 5;
	default: return 3;
	}
}

int capture_job_open(struct capture_job *job)
{
	if (job->bundle)
		return 0;
	const char *rule = job->trig.kind == TRIGGER_RULE ? job->trig.rule
			   : job->trig.kind == TRIGGER_API ? "api"
			   : job->trig.kind == TRIGGER_ALERT ? "alert" : "manual";
	int rc = bundle_create(job->parent_dir, job->proc.pid, rule, util_wall_ms(), &job->bundle);
	if (rc < 0) {
		log_error("cannot create bundle", "target=%s pid=%d dir=%s error=%s", job->target,
			  (int)job->proc.pid, job->parent_dir, strerror(-rc));
		return rc;
	}
	snprintf(job->id, sizeof(job->id), "%s", bundle_id(job->bundle));
	return 0;
}

/* The seconds before the firing, from the always-on recorder. */
static void write_flight(struct capture_job *job, bundle *b)
{
	char err[512] = "";
	int frc = flightrec_write(job->flight, bundle_dir(b), job->flight_until_mono_ms, err,
				  sizeof(err));
	if (frc == 0)
		frc = bundle_add_file(b, "cpu.before.pb.gz", "cpu", "pprof");
	if (frc < 0) {
		bundle_add_error(b, "cpu.before", "%s", err[0] ? err : strerror(-frc));
		job->nerrors++;
	}
}

int capture_job_run(struct capture_job *job, volatile sig_atomic_t *stop)
{
	int rc = capture_job_open(job);
	if (rc < 0)
		return rc;
	bundle *b = job->bundle;
	job->bundle = NULL; /* bundle_finish frees it */
	struct capture_ctx ctx = {
		.bundle = b,
		.pid = job->proc.pid,
		.target = NULL,
		.target_name = job->target,
		.go_url = job->go_url,
		.heap_baseline_dir = job->baseline_dir,
		.malloc = &job->malloc,
		.jvm = !job->go_url && !job->jvm_off && jvm_capture_applies(job->proc.pid),
		.stop = stop,
		.comm = job->proc.comm,
		.disk_left = job->disk_left,
	};
	for (int pass = 0; pass <= 6; pass++) {
		/*
		 * The flight recorder's profile right after the quick stacks:
		 * symbolized while the process most likely still lives, not after
		 * a long cpu or heap capture it may not survive.
		 */
		if (pass == 1 && job->flight)
			write_flight(job, b);
		for (size_t i = 0; i < job->items.n; i++) {
			if (item_order(&job->items.items[i], job->go_url != NULL) != pass)
				continue;
			if (stop && *stop) {
				bundle_add_error(b, capture_kind_name(job->items.items[i].kind),
						 "skipped: agent shutting down");
				job->nerrors++;
				continue;
			}
			if (capture_run_item(&ctx, &job->items.items[i]) < 0)
				job->nerrors++;
		}
	}
	rc = bundle_finish(b, job->target, &job->trig, &job->proc, job->labels, job->nlabels,
			   job->final_dir);
	if (rc < 0)
		log_error("cannot write bundle", "target=%s pid=%d bundle=%s error=%s", job->target,
			  (int)job->proc.pid, job->id, strerror(-rc));
	return rc;
}
