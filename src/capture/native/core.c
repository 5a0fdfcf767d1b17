/* core: the `core` capture kind: an ELF core dump of a native process, taken with a short freeze. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "capture/native/core.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "capture/native/core_maps.h"
#include "capture/native/core_notes.h"
#include "capture/native/core_out.h"
#include "capture/native/core_snap.h"
#include "capture/native/core_write.h"
#include "lib/log.h"
#include "lib/util.h"

/* Free space kept on the spool's filesystem beyond the estimate. */
#define DISK_MARGIN (64u << 20)

static unsigned read_filter(pid_t pid)
{
	char *t = util_read_proc_text(pid, "coredump_filter");
	unsigned f = CORE_FILTER_DEFAULT;
	if (t) {
		f = (unsigned)strtoul(t, NULL, 16);
		free(t);
	}
	return f;
}

/* NT_PRPSINFO's facts, read before the snapshot. */
static void read_info(pid_t pid, struct core_proc_info *pi)
{
	char *stat = util_read_proc_text(pid, "stat"), *status = util_read_proc_text(pid, "status");
	char *comm = util_read_proc_text(pid, "comm");
	char path[64], *cmd = NULL;
	size_t len = 0;

	memset(pi, 0, sizeof(*pi));
	pi->pid = pid;
	pi->signo = SIGSTOP; /* what gdb reports the core was "taken with" */
	pi->sender = getpid();
	const char *p = stat ? strrchr(stat, ')') : NULL;
	int ppid = 0, pgrp = 0, sid = 0;
	long nice = 0;
	char st = 'S';
	if (p && sscanf(p + 2, "%c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %ld", &st, &ppid,
			&pgrp, &sid, &nice) == 5) {
		pi->state = st;
		pi->ppid = ppid;
		pi->pgrp = pgrp;
		pi->sid = sid;
		pi->nice = (int)nice;
	}
	const char *u = status ? strstr(status, "\nUid:") : NULL, *g = status ? strstr(status, "\nGid:") : NULL;
	if (u)
		pi->uid = (uid_t)strtoul(u + 5, NULL, 10);
	if (g)
		pi->gid = (gid_t)strtoul(g + 5, NULL, 10);
	if (comm) {
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(pi->fname, sizeof(pi->fname), "%s", comm);
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (util_read_file(path, &cmd, &len, 4096) == 0) {
		for (size_t i = 0; i + 1 < len; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		snprintf(pi->psargs, sizeof(pi->psargs), "%s", cmd);
	}
	free(cmd);
	free(stat);
	free(status);
	free(comm);
}

static long read_maps(pid_t pid, unsigned filter, struct core_vma **v, char *err, size_t errlen)
{
	char path[64], *t = NULL;
	size_t len = 0;
	long n;
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	rc = util_read_file(path, &t, &len, 256u << 20);
	if (rc < 0)
		return util_err(err, errlen, rc, "read %s: %s", path, strerror(-rc));
	n = core_maps_parse(t, len, filter, v);
	free(t);
	if (n < 0)
		return util_err(err, errlen, (int)n, "cannot parse %s", path);
	return n;
}

/* The bytes this core may take on disk: the spool budget and the filesystem's free space. */
static uint64_t disk_budget(const struct capture_ctx *ctx)
{
	struct statvfs sv;
	uint64_t b = ctx->disk_left ? ctx->disk_left : UINT64_MAX;
	if (statvfs(bundle_dir(ctx->bundle), &sv) == 0) {
		uint64_t fs = (uint64_t)sv.f_bavail * sv.f_frsize;
		fs = fs > DISK_MARGIN ? fs - DISK_MARGIN : 0;
		if (fs < b)
			b = fs;
	}
	return b;
}

static size_t file_maps(const struct core_vma *v, size_t n, struct core_file_map **out)
{
	struct core_file_map *f = xcalloc(n ? n : 1, sizeof(*f));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].path[0] != '/' || v[i].inode == 0)
			continue;
		f[k++] = (struct core_file_map){v[i].start, v[i].end, v[i].offset / 4096, v[i].path};
	}
	*out = f;
	return k;
}

static void notes_for_manifest(struct capture_ctx *ctx, const struct core_snap *s, size_t nthreads,
			       uint64_t mem, uint64_t disk)
{
	char buf[1024];
	char *exe = util_read_proc_exe(ctx->pid);

	bundle_add_note(ctx->bundle, "core.method",
			s->method == CORE_FORK ? "fork (copy-on-write snapshot)" : "stop (stop-and-copy)");
	snprintf(buf, sizeof(buf), "%.1f", (double)s->freeze_ns / 1e6);
	bundle_add_note(ctx->bundle, "core.freeze_ms", buf);
	snprintf(buf, sizeof(buf), "%" PRIu64, mem);
	bundle_add_note(ctx->bundle, "core.memory_bytes", buf);
	snprintf(buf, sizeof(buf), "%" PRIu64, disk);
	bundle_add_note(ctx->bundle, "core.file_bytes", buf);
	snprintf(buf, sizeof(buf), "%zu", nthreads);
	bundle_add_note(ctx->bundle, "core.threads", buf);
	if (s->fallback[0])
		bundle_add_note(ctx->bundle, "core.fallback", s->fallback);
	const char *x = exe ? exe : "EXE";
	int n = snprintf(buf, sizeof(buf), "%sgdb %s core", strcmp(core_out_name(), "core.zst") ? "" : "zstd -d core.zst && ", x);
	if (ctx->go_url && n > 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, " (Go: dlv core %s core)", x);
	bundle_add_note(ctx->bundle, "core.open", buf);
	free(exe);
}

int core_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err, size_t errlen)
{
	struct core_proc_info pi;
	struct core_vma *v = NULL;
	struct core_file_map *files = NULL;
	struct core_snap s;
	struct util_buf notes = {0};
	struct core_write_stats st;
	core_out *o = NULL;
	char path[4096], *auxv = NULL;
	size_t auxv_len = 0;
	unsigned filter = read_filter(ctx->pid);
	long n;
	int rc;

	(void)item;
	/* Refuse before freezing anything when the estimate cannot fit. */
	n = read_maps(ctx->pid, filter, &v, err, errlen);
	if (n < 0)
		return (int)n;
	uint64_t estimate = core_maps_estimate(v, (size_t)n), budget = disk_budget(ctx);
	core_maps_free(v, (size_t)n);
	v = NULL;
	if (estimate > budget)
		return util_err(err, errlen, -ENOSPC,
				"a core of pid %d may take %" PRIu64 " MiB, the disk budget has %" PRIu64 " MiB left",
				(int)ctx->pid, estimate >> 20, budget >> 20);
	read_info(ctx->pid, &pi);
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)ctx->pid);
	util_read_file(path, &auxv, &auxv_len, 1 << 16);

	struct core_snap_opts opts = {.allow_fork = true, .child_bound_s = 10};
	rc = core_snap_take(ctx->pid, &opts, &s, err, errlen);
	if (rc < 0) {
		free(auxv);
		return rc;
	}
	n = read_maps(s.src, filter, &v, err, errlen);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	size_t nfiles = file_maps(v, (size_t)n, &files);
	core_notes_build(&notes, &s, &pi, auxv, auxv_len, files, nfiles);
	snprintf(path, sizeof(path), "%s/%s", bundle_dir(ctx->bundle), core_out_name());
	rc = core_out_open(path, budget == UINT64_MAX ? 0 : budget, &o);
	if (rc < 0) {
		util_err(err, errlen, rc, "create %s: %s", path, strerror(-rc));
		goto out;
	}
	rc = core_write_elf(o, &s, v, (size_t)n, &notes, ctx->stop, &st, err, errlen);
	uint64_t mem = st.mem_bytes, disk = core_out_disk(o);
	size_t nthreads = s.nthreads;
	/* The target (stop) or the child (fork) is let go before the file is finished. */
	core_snap_release(&s);
	if (rc < 0) {
		core_out_abort(o);
		goto out_released;
	}
	rc = core_out_finish(o);
	if (rc < 0) {
		util_err(err, errlen, rc, "finish %s: %s", path, strerror(-rc));
		goto out_released;
	}
	notes_for_manifest(ctx, &s, nthreads, mem, disk);
	if (st.unreadable) {
		char b[64];
		snprintf(b, sizeof(b), "%" PRIu64, st.unreadable);
		bundle_add_note(ctx->bundle, "core.unreadable_bytes", b);
	}
	rc = bundle_add_file(ctx->bundle, core_out_name(), "core", core_out_format());
	if (rc < 0)
		util_err(err, errlen, rc, "register %s: %s", core_out_name(), strerror(-rc));
	log_info("core dump written", "pid=%d method=%s freeze_ms=%.1f memory_bytes=%" PRIu64 " file_bytes=%" PRIu64,
		 (int)ctx->pid, core_method_name(s.method), (double)s.freeze_ns / 1e6, mem, disk);
	goto out_released;
out:
	core_snap_release(&s);
out_released:
	free(notes.p);
	free(files);
	core_maps_free(v, n > 0 ? (size_t)n : 0);
	free(auxv);
	return rc;
}
