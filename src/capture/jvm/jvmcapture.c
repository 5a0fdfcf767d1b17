/*
 * jvmcapture: what a JVM can tell about itself, asked through the attach
 * socket. Files the JVM writes itself (heap dumps, JFR recordings) are
 * written in its own /tmp, inside its mount namespace and as its user, then
 * moved into the bundle through /proc/PID/root.
 */
#include "capture/jvm/jvmcapture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "capture/jvm/attach.h"
#include "capture/jvm/jvmhisto.h"
#include "lib/hsperf.h"
#include "lib/util.h"

bool jvm_capture_applies(pid_t pid)
{
	struct jvm_proc j;
	return jvm_proc_probe(pid, true, &j) == 0 && jvm_proc_is_jvm(&j);
}

static int probe(pid_t pid, struct jvm_proc *j, char *err, size_t errlen)
{
	int rc = jvm_proc_probe(pid, false, j);
	if (rc < 0)
		return util_err(err, errlen, rc, "read /proc/%d/status: %s", (int)pid, strerror(-rc));
	return 0;
}

/* Runs cmd into dir/name; a non-zero JVM status is an error that quotes the JVM. */
static int jcmd_to_file(const struct jvm_proc *j, const char *cmd, const char *dir, const char *name,
			int timeout_ms, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int status;
	if (!util_snprintf(path, sizeof(path), "%s/%s", dir, name))
		return util_err(err, errlen, -ENAMETOOLONG, "path too long: %s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return util_err(err, errlen, -errno, "create %s: %s", path, strerror(errno));
	int rc = jvm_attach_jcmd(j, cmd, fd, timeout_ms, &status, err, errlen);
	if (close(fd) < 0 && rc == 0)
		rc = util_err(err, errlen, -errno, "write %s: %s", path, strerror(errno));
	if (rc == 0 && status != 0) {
		char msg[256] = "";
		char *text = NULL;
		if (util_read_file(path, &text, NULL, 4096) == 0) {
			snprintf(msg, sizeof(msg), "%s", text);
			msg[strcspn(msg, "\n")] = '\0';
		}
		free(text);
		rc = util_err(err, errlen, -EPROTO, "JVM pid %d: %s failed (status %d): %s", (int)j->pid,
			      cmd, status, msg);
	}
	if (rc < 0)
		unlink(path);
	return rc;
}

static int capture_threads(struct capture_ctx *ctx, const struct jvm_proc *j, char *err, size_t errlen)
{
	int rc = jcmd_to_file(j, "Thread.print -l", bundle_dir(ctx->bundle), "threads.txt",
			      JVM_THREADS_TIMEOUT_MS, err, errlen);
	if (rc == 0)
		rc = bundle_add_file(ctx->bundle, "threads.txt", "stacks", "text");
	return rc;
}

static void when(const char *path, char *buf, size_t len)
{
	struct stat st;
	snprintf(buf, len, "unknown");
	if (stat(path, &st) == 0)
		util_fmt_time((int64_t)st.st_mtime * 1000, buf, len);
}

static int load_histo(const char *path, struct jvm_histo *h)
{
	char *text = NULL;
	size_t len = 0;
	int rc = util_read_file(path, &text, &len, (size_t)256 << 20);
	if (rc == 0)
		rc = jvm_histo_parse(text, len, h);
	free(text);
	return rc;
}

/* heap.diff.txt from the baseline copy and the current histogram; failures are notes, not errors. */
static void heap_diff(struct capture_ctx *ctx)
{
	const char *dir = bundle_dir(ctx->bundle);
	char src[PATH_MAX], base[PATH_MAX], now[PATH_MAX], diff[PATH_MAX], t0[48], t1[48];
	struct jvm_histo hb, hn;

	if (!ctx->heap_baseline_dir ||
	    !util_snprintf(src, sizeof(src), "%s/heap.base.histo.txt", ctx->heap_baseline_dir) ||
	    access(src, R_OK) != 0) {
		bundle_add_note(ctx->bundle, "heap.base", "no class histogram baseline for this process yet");
		return;
	}
	snprintf(base, sizeof(base), "%s/heap.base.histo.txt", dir);
	snprintf(now, sizeof(now), "%s/heap.histo.txt", dir);
	snprintf(diff, sizeof(diff), "%s/heap.diff.txt", dir);
	char *text = NULL;
	size_t len = 0;
	int rc = util_read_file(src, &text, &len, (size_t)256 << 20);
	if (rc == 0)
		rc = util_write_file_atomic(base, text, len);
	free(text);
	if (rc < 0 || bundle_add_file(ctx->bundle, "heap.base.histo.txt", "heap", "text") < 0) {
		bundle_add_error(ctx->bundle, "heap", "baseline: copy %s: %s", src, strerror(-rc));
		return;
	}
	if (load_histo(base, &hb) < 0) {
		bundle_add_error(ctx->bundle, "heap", "baseline %s: no class histogram in it", src);
		return;
	}
	if (load_histo(now, &hn) < 0) {
		jvm_histo_free(&hb);
		bundle_add_error(ctx->bundle, "heap", "heap.histo.txt: no class histogram in it");
		return;
	}
	when(src, t0, sizeof(t0));
	when(now, t1, sizeof(t1));
	FILE *f = fopen(diff, "we");
	if (f) {
		jvm_histo_format_diff(&hb, &hn, t0, t1, f, 50);
		if (fclose(f) == 0 && bundle_add_file(ctx->bundle, "heap.diff.txt", "heap", "text") == 0)
			f = NULL;
	}
	if (f || access(diff, R_OK) != 0)
		bundle_add_error(ctx->bundle, "heap", "cannot write heap.diff.txt");
	jvm_histo_free(&hb);
	jvm_histo_free(&hn);
}

static int capture_histo(struct capture_ctx *ctx, const struct jvm_proc *j, char *err, size_t errlen)
{
	int rc = jcmd_to_file(j, "GC.class_histogram", bundle_dir(ctx->bundle), "heap.histo.txt",
			      JVM_HISTO_TIMEOUT_MS, err, errlen);
	if (rc == 0)
		rc = bundle_add_file(ctx->bundle, "heap.histo.txt", "heap", "text");
	if (rc == 0)
		heap_diff(ctx);
	return rc;
}

int jvm_heap_baseline(pid_t pid, const char *dir)
{
	struct jvm_proc j;
	char err[512], tmp[PATH_MAX], dst[PATH_MAX];
	int rc = probe(pid, &j, err, sizeof(err));
	if (rc < 0)
		return rc;
	rc = jcmd_to_file(&j, "GC.class_histogram", dir, "heap.base.histo.txt.tmp", JVM_HISTO_TIMEOUT_MS,
			  err, sizeof(err));
	if (rc < 0)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s/heap.base.histo.txt.tmp", dir);
	snprintf(dst, sizeof(dst), "%s/heap.base.histo.txt", dir);
	if (rename(tmp, dst) < 0) {
		rc = -errno;
		unlink(tmp);
	}
	return rc;
}

/* Moves a file the JVM wrote (seen through /proc/PID/root) into the bundle; the source goes either way. */
static int move_in(const char *src, const char *dst, char *err, size_t errlen)
{
	/* the JVM made it 0600 as its user; in the bundle it is hound's, like every file */
	if (rename(src, dst) == 0)
		return chmod(dst, 0644) < 0 ? -errno : 0;
	int in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0) {
		int e = errno;
		unlink(src);
		return util_err(err, errlen, -e, "open %s: %s", src, strerror(e));
	}
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = 0;
	if (out < 0) {
		rc = util_err(err, errlen, -errno, "create %s: %s", dst, strerror(errno));
	} else {
		char buf[65536];
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if ((rc = util_write_full(out, buf, (size_t)n)) < 0)
				break;
		if (n < 0)
			rc = -errno;
		if (close(out) < 0 && rc == 0)
			rc = -errno;
		if (rc < 0) {
			util_err(err, errlen, rc, "copy %s to %s: %s", src, dst, strerror(-rc));
			unlink(dst);
		}
	}
	close(in);
	unlink(src);
	return rc;
}

/* A name in the JVM's own /tmp, unique per capture, and the same file as hound sees it. */
static void jvm_tmp(const struct jvm_proc *j, const char *what, char *in_jvm, size_t l1, char *host,
		    size_t l2)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(in_jvm, l1, "/tmp/.hound-%d-%lld%09ld.%s", (int)j->nspid, (long long)ts.tv_sec,
		 ts.tv_nsec, what);
	snprintf(host, l2, "/proc/%d/root%s", (int)j->pid, in_jvm);
}

/* The heap in use, from PerfData when there is some (to refuse a dump that cannot fit). */
static int64_t heap_used(const struct jvm_proc *j)
{
	char *buf = NULL;
	size_t len = 0;
	int64_t used = -1;
	if (!j->has_perf || util_read_file(j->perf_path, &buf, &len, 1 << 22) < 0)
		return -1;
	struct hsperf_header h;
	struct hsperf_iter it;
	struct hsperf_entry e;
	if (hsperf_parse_header(buf, len, &h) == 0) {
		used = 0;
		hsperf_iter_init(&h, &it);
		while (hsperf_next(buf, len, &h, &it, &e) == 1) {
			static const char sfx[] = ".used";
			if (e.type == 'J' && util_str_has_prefix(e.name, "sun.gc.generation.") &&
			    strstr(e.name, ".space.") && e.name_len > 5 &&
			    strcmp(e.name + e.name_len - 5, sfx) == 0)
				used += hsperf_long(buf, &h, e.data_off);
		}
	}
	free(buf);
	return used;
}

static int capture_heap_dump(struct capture_ctx *ctx, const struct jvm_proc *j, char *err,
			     size_t errlen)
{
	char in_jvm[256], host[PATH_MAX], dst[PATH_MAX], cmd[512], reply[2048];
	const char *dir = bundle_dir(ctx->bundle);
	struct statvfs vfs;
	int status;

	/* gzip level 1 shrinks a heap several times; refuse when even the raw heap would not fit */
	int64_t used = heap_used(j);
	if (used > 0 && statvfs(dir, &vfs) == 0 &&
	    (uint64_t)used / 2 > (uint64_t)vfs.f_bavail * vfs.f_frsize)
		return util_err(err, errlen, -ENOSPC,
				"heap dump of JVM pid %d refused: %lld MiB of heap, %llu MiB free in %s",
				(int)j->pid, (long long)(used >> 20),
				(unsigned long long)((uint64_t)vfs.f_bavail * vfs.f_frsize >> 20), dir);
	jvm_tmp(j, "hprof.gz", in_jvm, sizeof(in_jvm), host, sizeof(host));
	snprintf(cmd, sizeof(cmd), "GC.heap_dump -gz=1 %s", in_jvm);
	int rc = jvm_attach_jcmd_text(j, cmd, reply, sizeof(reply), JVM_HEAP_DUMP_TIMEOUT_MS, &status,
				      err, errlen);
	/* the JVM answers 0 even when it could not write the file: its text says */
	if (rc == 0 && (status != 0 || !strstr(reply, "Heap dump file created"))) {
		reply[strcspn(reply, "\n")] = ' ';
		rc = util_err(err, errlen, -EPROTO, "JVM pid %d: GC.heap_dump: %s", (int)j->pid, reply);
	}
	if (rc < 0) {
		unlink(host);
		return rc;
	}
	snprintf(dst, sizeof(dst), "%s/heap.hprof.gz", dir);
	rc = move_in(host, dst, err, errlen);
	if (rc == 0)
		rc = bundle_add_file(ctx->bundle, "heap.hprof.gz", "heap_dump", "hprof+gzip");
	return rc;
}

static int jcmd_ok(const struct jvm_proc *j, const char *cmd, char *reply, size_t cap, char *err,
		   size_t errlen)
{
	int status;
	int rc = jvm_attach_jcmd_text(j, cmd, reply, cap, 60000, &status, err, errlen);
	if (rc == 0 && status != 0) {
		reply[strcspn(reply, "\n")] = '\0';
		rc = util_err(err, errlen, -EPROTO, "JVM pid %d: %s: %s", (int)j->pid, cmd, reply);
	}
	return rc;
}

/* Dumps recording `name` (a JFR name or number) into the bundle as file. */
static int jfr_dump(struct capture_ctx *ctx, const struct jvm_proc *j, const char *name,
		    const char *file, char *err, size_t errlen)
{
	char in_jvm[256], host[PATH_MAX], dst[PATH_MAX], cmd[512], reply[2048];
	jvm_tmp(j, "jfr", in_jvm, sizeof(in_jvm), host, sizeof(host));
	snprintf(cmd, sizeof(cmd), "JFR.dump name=%s filename=%s", name, in_jvm);
	int rc = jcmd_ok(j, cmd, reply, sizeof(reply), err, errlen);
	if (rc < 0) {
		unlink(host);
		return rc;
	}
	snprintf(dst, sizeof(dst), "%s/%s", bundle_dir(ctx->bundle), file);
	rc = move_in(host, dst, err, errlen);
	if (rc == 0)
		rc = bundle_add_file(ctx->bundle, file, "cpu", "jfr");
	return rc;
}

/*
 * A recording the service already runs (-XX:StartFlightRecording) holds the
 * minutes before the firing: dump it first, as the flight recorder would.
 */
static void jfr_before(struct capture_ctx *ctx, const struct jvm_proc *j)
{
	char reply[4096], err[512];
	if (jcmd_ok(j, "JFR.check", reply, sizeof(reply), err, sizeof(err)) < 0)
		return;
	const char *p = strstr(reply, "Recording ");
	const char *n = p ? strstr(p, "name=") : NULL;
	if (!n || !strstr(p, "(running)"))
		return;
	char name[128];
	size_t k = strcspn(n + 5, " \n");
	snprintf(name, sizeof(name), "%.*s", (int)(k < sizeof(name) ? k : sizeof(name) - 1), n + 5);
	if (jfr_dump(ctx, j, name, "cpu.before.jfr", err, sizeof(err)) < 0)
		bundle_add_error(ctx->bundle, "cpu.before", "%s", err);
}

static int capture_jfr(struct capture_ctx *ctx, const struct jvm_proc *j, int64_t ms, char *err,
		       size_t errlen)
{
	char cmd[256], reply[2048], name[64], e2[512];
	jfr_before(ctx, j);
	snprintf(name, sizeof(name), "hound-%lld", (long long)util_wall_ms());
	snprintf(cmd, sizeof(cmd), "JFR.start name=%s settings=profile", name);
	int rc = jcmd_ok(j, cmd, reply, sizeof(reply), err, errlen);
	if (rc < 0)
		return rc;
	int64_t end = util_mono_ms() + ms;
	while (util_mono_ms() < end && !(ctx->stop && *ctx->stop)) {
		struct timespec ts = {0, 100000000L};
		nanosleep(&ts, NULL);
		if (kill(j->pid, 0) < 0 && errno == ESRCH)
			return util_err(err, errlen, -ESRCH, "JVM pid %d exited during the recording",
					(int)j->pid);
	}
	rc = jfr_dump(ctx, j, name, "cpu.jfr", err, errlen);
	snprintf(cmd, sizeof(cmd), "JFR.stop name=%s", name);
	if (jcmd_ok(j, cmd, reply, sizeof(reply), e2, sizeof(e2)) < 0 && rc == 0)
		bundle_add_note(ctx->bundle, "cpu.jfr", e2);
	return rc;
}

int jvm_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err, size_t errlen)
{
	struct jvm_proc j;
	int rc = probe(ctx->pid, &j, err, errlen);
	if (rc < 0)
		return rc;
	switch (item->kind) {
	case K_STACKS:
		return capture_threads(ctx, &j, err, errlen);
	case K_HEAP:
		return capture_histo(ctx, &j, err, errlen);
	case K_HEAP_DUMP:
		return capture_heap_dump(ctx, &j, err, errlen);
	case K_CPU:
		return capture_jfr(ctx, &j, item->duration_ms > 0 ? item->duration_ms : 10000, err, errlen);
	default:
		return util_err(err, errlen, -EINVAL, "%s has no JVM variant", capture_kind_name(item->kind));
	}
}
