/* heapnative: the `heap` capture of a native process (smaps now, and what grew since a baseline).
 */
#include "capture/native/heapnative.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "capture/native/heapfaults.h"
#include "capture/native/mtrack.h"
#include "capture/native/smaps.h"
#include "lib/log.h"
#include "lib/util.h"

#define COPY_CHUNK (64 * 1024)
/* Rows in heap.diff.txt before "... N more". */
#define DIFF_ROWS 200

/*
 * Streams src into dst (created or truncated). On failure returns -errno and
 * writes "open(PATH): ..." / "read(PATH): ..." into err.
 */
static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
	char *buf = NULL;
	int in, out = -1, rc = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		rc = -errno;
		snprintf(err, errlen, "open(%s): %s", src, strerror(-rc));
		return rc;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		rc = -errno;
		snprintf(err, errlen, "open(%s): %s", dst, strerror(-rc));
		goto out_in;
	}
	buf = xmalloc(COPY_CHUNK);
	for (;;) {
		ssize_t r = read(in, buf, COPY_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(err, errlen, "read(%s): %s", src, strerror(-rc));
			break;
		}
		if (r == 0)
			break;
		rc = util_write_full(out, buf, (size_t)r);
		if (rc < 0) {
			snprintf(err, errlen, "write(%s): %s", dst, strerror(-rc));
			break;
		}
	}
	free(buf);
	if (close(out) < 0 && rc == 0) {
		rc = -errno;
		snprintf(err, errlen, "close(%s): %s", dst, strerror(-rc));
	}
out_in:
	close(in);
	return rc;
}

int heapnative_baseline(pid_t pid, const char *dir)
{
	char src[64], tmp[PATH_MAX], dst[PATH_MAX], err[PATH_MAX + 64];
	int rc;

	snprintf(src, sizeof(src), "/proc/%d/smaps", (int)pid);
	if (!util_snprintf(tmp, sizeof(tmp), "%s/smaps.base.txt.tmp", dir) ||
	    !util_snprintf(dst, sizeof(dst), "%s/smaps.base.txt", dir))
		return -ENAMETOOLONG;
	rc = util_mkdir_p(dir, 0700);
	if (rc < 0)
		return rc;
	rc = copy_file(src, tmp, err, sizeof(err));
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Reads and parses one smaps file; err names the file on failure. */
static int load_table(const char *path, struct smaps_table *t, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc = util_read_file(path, &buf, &len, HEAPNATIVE_MAX_PARSE);

	memset(t, 0, sizeof(*t));
	if (rc < 0) {
		snprintf(err, errlen, "read(%s): %s", path, strerror(-rc));
		return rc;
	}
	/* An empty table (a process with no mappings left) still diffs. */
	smaps_parse(buf, len, t);
	free(buf);
	return 0;
}

/*
 * The mapping section of heap.diff.txt: growth since the baseline when the
 * bundle holds smaps.base.txt, else a line saying why there is none.
 */
static int write_mappings(FILE *f, const char *dir, bool have_base, char *err, size_t errlen)
{
	char base_p[PATH_MAX], now_p[PATH_MAX];
	struct smaps_table base, now;
	int rc;

	fprintf(f, "#\n# by mapping (smaps.txt against smaps.base.txt)\n");
	if (!have_base) {
		fprintf(f, "# no smaps baseline for this process: growth by mapping unknown\n");
		return 0;
	}
	if (!util_snprintf(base_p, sizeof(base_p), "%s/smaps.base.txt", dir) ||
	    !util_snprintf(now_p, sizeof(now_p), "%s/smaps.txt", dir))
		return util_err(err, errlen, -ENAMETOOLONG, "bundle path too long: %s", dir);
	rc = load_table(base_p, &base, err, errlen);
	if (rc < 0)
		return rc;
	rc = load_table(now_p, &now, err, errlen);
	if (rc == 0) {
		rc = smaps_write_diff(f, &base, &now, DIFF_ROWS);
		smaps_table_fini(&now);
	}
	smaps_table_fini(&base);
	return rc;
}

/*
 * Writes heap.diff.txt: code first (malloc tracking, then the fault
 * profile, so the first data line names a function), then the mapping
 * table. mt and faults are NULL when they could not be taken; why says
 * why the fault profile could not.
 */
static int write_diff(const char *dir, const struct mtrack_result *mt,
		      const struct heapfaults_result *faults, const char *why, bool have_base,
		      char *err, size_t errlen)
{
	char out_p[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (!util_snprintf(out_p, sizeof(out_p), "%s/heap.diff.txt", dir))
		return util_err(err, errlen, -ENAMETOOLONG, "bundle path too long: %s", dir);
	f = open_memstream(&text, &len);
	if (!f)
		return util_err(err, errlen, -errno, "open_memstream: %s", strerror(errno));
	fprintf(f, "# hound heap diff (native): by code, then by mapping\n");
	/* who allocated and did not free first; who made memory resident next */
	if (mt) {
		mtrack_format(f, mt, DIFF_ROWS);
		fprintf(f, "#\n");
	}
	if (faults)
		heapfaults_format(f, faults, DIFF_ROWS);
	else
		fprintf(f, "# by code: no page-fault profile: %s\n", why);
	rc = write_mappings(f, dir, have_base, err, errlen);
	if (fclose(f) != 0 && rc == 0)
		rc = util_err(err, errlen, -EIO, "write heap.diff.txt: out of memory");
	if (rc == 0) {
		rc = util_write_file_atomic(out_p, text, len);
		if (rc < 0)
			util_err(err, errlen, rc, "write(%s): %s", out_p, strerror(-rc));
	}
	free(text);
	return rc;
}

/* Copies /proc/PID/NAME into the bundle as FILE and registers it. */
static int copy_proc(const struct capture_ctx *ctx, const char *name, const char *file,
		     char *err, size_t errlen)
{
	const char *dir = bundle_dir(ctx->bundle);
	char src[64], dst[PATH_MAX];
	int rc;

	snprintf(src, sizeof(src), "/proc/%d/%s", (int)ctx->pid, name);
	if (!util_snprintf(dst, sizeof(dst), "%s/%s", dir, file))
		return util_err(err, errlen, -ENAMETOOLONG, "bundle path too long: %s", dir);
	rc = copy_file(src, dst, err, errlen);
	if (rc < 0) {
		unlink(dst);
		return rc;
	}
	rc = bundle_add_file(ctx->bundle, file, "heap", "text");
	if (rc < 0)
		util_err(err, errlen, rc, "register %s: %s", file, strerror(-rc));
	return rc;
}

int heapnative_rollup(const struct capture_ctx *ctx)
{
	char err[PATH_MAX + 64];
	int rc = copy_proc(ctx, "smaps_rollup", "smaps_rollup.txt", err, sizeof(err));

	if (rc < 0)
		bundle_add_note(ctx->bundle, "heap.smaps_rollup", err);
	return rc;
}

/* Copies the baseline into the bundle; false (and a note) when there is none. */
static bool copy_baseline(struct capture_ctx *ctx, char *err, size_t errlen, int *rc)
{
	char base[PATH_MAX], dst[PATH_MAX];
	const char *dir = bundle_dir(ctx->bundle);
	struct stat st;

	*rc = 0;
	if (!ctx->heap_baseline_dir ||
	    !util_snprintf(base, sizeof(base), "%s/smaps.base.txt", ctx->heap_baseline_dir) ||
	    stat(base, &st) < 0) {
		bundle_add_note(ctx->bundle, "heap",
				"no smaps baseline for this process: heap.diff.txt has no mapping growth");
		return false;
	}
	if (!util_snprintf(dst, sizeof(dst), "%s/smaps.base.txt", dir)) {
		*rc = util_err(err, errlen, -ENAMETOOLONG, "bundle path too long: %s", dir);
		return false;
	}
	*rc = copy_file(base, dst, err, errlen);
	if (*rc < 0) {
		unlink(dst);
		return false;
	}
	*rc = bundle_add_file(ctx->bundle, "smaps.base.txt", "heap", "text");
	return *rc == 0;
}

/* Malloc tracking runs on its own thread beside the fault profile, for the same duration. */
struct malloc_job {
	pthread_t thread;
	pid_t pid;
	struct mtrack_opts opts;
	volatile sig_atomic_t *stop;
	bundle *bundle;
	struct mtrack_result res;
	int rc;
	char err[512];
};

static void *malloc_main(void *arg)
{
	struct malloc_job *j = arg;

	j->rc = mtrack_capture(j->pid, &j->opts, j->stop, j->bundle, &j->res, j->err,
			       sizeof(j->err));
	return NULL;
}

/* Records what malloc tracking did, or why it did not, in the manifest. */
static void malloc_record(struct capture_ctx *ctx, struct malloc_job *j)
{
	char what[512];

	if (j->rc == 0) {
		mtrack_describe(&j->res, j->opts.sample_bytes, j->opts.budget, what, sizeof(what));
		bundle_add_note(ctx->bundle, "heap.malloc", what);
		return;
	}
	bundle_add_error(ctx->bundle, "heap.malloc", "%s", j->err);
	log_info("malloc tracking skipped", "pid=%d reason=%s", (int)ctx->pid, j->err);
	if (j->rc == -EPERM || j->rc == -EACCES)
		bundle_add_note(ctx->bundle, "heap.malloc",
				"malloc tracking needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (the "
				"kernel refuses uprobe perf events without it); the page-fault "
				"profile still names the code that touched new memory");
}

static void malloc_opts(const struct capture_ctx *ctx, int64_t dur_ms, struct mtrack_opts *o)
{
	const struct malloc_conf *mc = ctx->malloc;

	o->duration_ms = dur_ms;
	o->sample_bytes = mc && mc->sample_bytes ? mc->sample_bytes : MTRACK_DEFAULT_SAMPLE;
	o->budget = mc && mc->budget > 0 ? mc->budget : MTRACK_DEFAULT_BUDGET;
}

int heapnative_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		       size_t errlen)
{
	int64_t dur_ms = item && item->duration_ms > 0 ? item->duration_ms : HEAPNATIVE_DEFAULT_MS;
	struct heapfaults_result fr;
	struct malloc_job mj = {.pid = ctx->pid, .stop = ctx->stop, .bundle = ctx->bundle};
	bool malloc_on = !ctx->malloc || !ctx->malloc->disabled, malloc_started = false;
	char why[512] = "";
	bool have_faults, have_base;
	int rc;

	/* smaps first: a process hound may not read fails here, before any sampling */
	rc = copy_proc(ctx, "smaps", "smaps.txt", err, errlen);
	if (rc < 0)
		return rc;
	malloc_opts(ctx, dur_ms, &mj.opts);
	if (malloc_on) {
		mj.rc = pthread_create(&mj.thread, NULL, malloc_main, &mj);
		malloc_started = mj.rc == 0;
		if (!malloc_started)
			snprintf(mj.err, sizeof(mj.err), "pthread_create: %s", strerror(mj.rc));
		mj.rc = -mj.rc;
	}
	rc = heapfaults_capture(ctx->pid, dur_ms, ctx->stop, ctx->bundle, &fr, why, sizeof(why));
	if (malloc_started)
		pthread_join(mj.thread, NULL);
	if (malloc_on)
		malloc_record(ctx, &mj);
	have_faults = rc == 0;
	if (!have_faults) {
		bundle_add_error(ctx->bundle, "heap.faults", "%s", why);
		if (rc == -EACCES || rc == -EPERM)
			bundle_add_note(ctx->bundle, "heap.faults",
					"perf_event_open was refused: the page-fault profile needs "
					"CAP_PERFMON (or kernel.perf_event_paranoid <= 1)");
	}
	/* the state at the end of the profile: what the diff compares */
	if (kill(ctx->pid, 0) == 0) {
		char e2[256];
		copy_proc(ctx, "smaps", "smaps.txt", e2, sizeof(e2));
	}
	heapnative_rollup(ctx);
	have_base = copy_baseline(ctx, err, errlen, &rc);
	if (rc == 0 && (have_faults || have_base || mj.rc == 0))
		rc = write_diff(bundle_dir(ctx->bundle), malloc_on && mj.rc == 0 ? &mj.res : NULL,
				have_faults ? &fr : NULL, why, have_base, err, errlen);
	if (rc == 0 && (have_faults || have_base || mj.rc == 0))
		rc = bundle_add_file(ctx->bundle, "heap.diff.txt", "heap", "text");
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "heap diff: %s", strerror(-rc));
	if (have_faults)
		heapfaults_result_fini(&fr);
	if (malloc_on && mj.rc == 0)
		mtrack_result_fini(&mj.res);
	return rc;
}
