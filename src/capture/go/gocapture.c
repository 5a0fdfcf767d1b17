/*
 * gocapture: pulls pprof endpoints of a Go target straight into bundle files.
 * Bodies stream to disk through http_client (never held in memory) with a
 * cap per file; the heap capture adds the baseline and the diff.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/go/gocapture.h"
#include "lib/heapdiff.h"
#include "lib/http_client.h"
#include "lib/log.h"
#include "lib/pprof_fold.h"
#include "lib/util.h"

/*
 * Go publishes the in-use heap profile as of the last completed GC, which in
 * a small or quiet heap can be long before now. gc=1 makes the target run one
 * GC first, so the baseline and the capture both describe the heap as it is,
 * and their difference is the growth between them, not a GC-timing artefact.
 */
#define GO_HEAP_PATH "/debug/pprof/heap?gc=1"
/* /debug/vars is a few KiB; a service that publishes much more is cut off. */
#define GO_VARS_MAX (1u << 20)

int go_fetch_to_file(const char *go_url, const char *path, const char *dest, uint64_t max,
		     int64_t timeout_ms, int keep_partial, char *err, size_t errlen)
{
	size_t n = strlen(go_url);
	while (n && go_url[n - 1] == '/')
		n--;
	char *url = xasprintf("%.*s%s", (int)n, go_url, path);
	http_client *c = NULL;
	struct http_response resp;
	int rc, fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	memset(&resp, 0, sizeof(resp));
	if (fd < 0) {
		rc = util_err(err, errlen, -errno, "open %s: %s", dest, strerror(errno));
		free(url);
		return rc;
	}
	rc = http_client_new(&c);
	if (rc < 0) {
		util_err(err, errlen, rc, "GET %s: cannot create an HTTP handle: %s", url, strerror(-rc));
		goto out;
	}
	struct http_request req = {
		.method = "GET",
		.url = url,
		.body_fd = -1,
		.resp_fd = fd,
		.max_body = max,
		.connect_timeout_ms = 2000,
		.timeout_ms = timeout_ms,
	};
	rc = http_request_do(c, &req, &resp);
	if (rc < 0) {
		util_err(err, errlen, rc, "%s", resp.err[0] ? resp.err : strerror(-rc));
	} else if (resp.status != 200) {
		rc = util_err(err, errlen, resp.status == 404 ? -ENOENT : -EPROTO, "GET %s: HTTP %ld",
			  url, resp.status);
	} else if (fsync(fd) < 0) {
		rc = util_err(err, errlen, -errno, "fsync %s: %s", dest, strerror(errno));
	}
out:
	http_response_fini(&resp);
	http_client_free(c);
	if (close(fd) < 0 && rc == 0)
		rc = util_err(err, errlen, -errno, "close %s: %s", dest, strerror(errno));
	if (rc < 0 && !(rc == -EFBIG && keep_partial))
		unlink(dest);
	free(url);
	return rc;
}

static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	if (in < 0)
		return util_err(err, errlen, -errno, "open %s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (out < 0) {
		rc = util_err(err, errlen, -errno, "open %s: %s", dst, strerror(errno));
		goto done;
	}
	for (;;) {
		ssize_t got = util_read_full(in, buf, sizeof(buf));
		if (got < 0) {
			rc = util_err(err, errlen, -errno, "read %s: %s", src, strerror(errno));
			break;
		}
		if (got == 0)
			break;
		rc = util_write_full(out, buf, (size_t)got);
		if (rc < 0) {
			util_err(err, errlen, rc, "write %s: %s", dst, strerror(-rc));
			break;
		}
	}
	if (close(out) < 0 && rc == 0)
		rc = util_err(err, errlen, -errno, "close %s: %s", dst, strerror(errno));
	if (rc < 0)
		unlink(dst);
done:
	close(in);
	return rc;
}

/* Fetches one endpoint into DIR/name and registers it. */
static int fetch_into(struct capture_ctx *ctx, const char *kind, const char *path,
		      const char *name, const char *format, uint64_t max, int64_t timeout_ms,
		      int keep_partial, char *err, size_t errlen)
{
	char dest[PATH_MAX];
	snprintf(dest, sizeof(dest), "%s/%s", bundle_dir(ctx->bundle), name);
	int rc = go_fetch_to_file(ctx->go_url, path, dest, max, timeout_ms, keep_partial, err,
				  errlen);
	if (rc == -EFBIG && keep_partial) {
		bundle_add_note(ctx->bundle, name, "truncated at the size cap");
		rc = 0;
	}
	if (rc < 0)
		return rc;
	rc = bundle_add_file(ctx->bundle, name, kind, format);
	if (rc < 0)
		return util_err(err, errlen, rc, "register %s: %s", name, strerror(-rc));
	return 0;
}

static bool exists_in_bundle(struct capture_ctx *ctx, const char *name)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", bundle_dir(ctx->bundle), name);
	return access(p, F_OK) == 0;
}

/*
 * The goroutine dump, for `goroutines` and for `stacks` on a Go target. Its
 * files are always of kind "goroutines" in the manifest, whichever kind asked
 * for them first, so a reader finds them by what they are.
 */
static int capture_goroutines(struct capture_ctx *ctx, char *err, size_t errlen)
{
	const char *kind = "goroutines";
	/* stacks and goroutines in one bundle would fetch the same files twice */
	if (exists_in_bundle(ctx, "goroutines.txt") && exists_in_bundle(ctx, "goroutines.pb.gz"))
		return 0;
	int rc = fetch_into(ctx, kind, "/debug/pprof/goroutine", "goroutines.pb.gz", "pprof",
			    GO_PROFILE_MAX_BYTES, 30000, 0, err, errlen);
	char err2[512] = "";
	int rc2 = fetch_into(ctx, kind, "/debug/pprof/goroutine?debug=2", "goroutines.txt", "text",
			     GO_DUMP_MAX_BYTES, 60000, 1, err2, sizeof(err2));
	if (rc == 0 && rc2 < 0) {
		util_err(err, errlen, rc2, "%s", err2);
		return rc2;
	}
	return rc;
}

static int capture_heap(struct capture_ctx *ctx, char *err, size_t errlen)
{
	char now[PATH_MAX], base[PATH_MAX], diff[PATH_MAX], src[PATH_MAX];
	const char *dir = bundle_dir(ctx->bundle);
	char verr[256];
	int rc = fetch_into(ctx, "heap", GO_HEAP_PATH, "heap.pb.gz", "pprof",
			    GO_PROFILE_MAX_BYTES, 30000, 0, err, errlen);
	if (rc < 0)
		return rc;
	/* memstats (HeapReleased ...) beside smaps_rollup: why RSS is above the heap */
	if (fetch_into(ctx, "heap", "/debug/vars", "vars.json", "json", GO_VARS_MAX, 5000, 0, verr,
		       sizeof(verr)) < 0)
		bundle_add_note(ctx->bundle, "heap.vars", verr);
	if (!ctx->heap_baseline_dir) {
		bundle_add_note(ctx->bundle, "heap.base", "no baseline directory for this process");
		return 0;
	}
	snprintf(src, sizeof(src), "%s/heap.base.pb.gz", ctx->heap_baseline_dir);
	if (access(src, R_OK) != 0) {
		bundle_add_note(ctx->bundle, "heap.base", "no baseline yet (taken when warm-up ends)");
		return 0;
	}
	/* The baseline and the diff are extras: their failure is recorded, heap.pb.gz stays. */
	char e[512];
	snprintf(now, sizeof(now), "%s/heap.pb.gz", dir);
	snprintf(base, sizeof(base), "%s/heap.base.pb.gz", dir);
	snprintf(diff, sizeof(diff), "%s/heap.diff.txt", dir);
	if (copy_file(src, base, e, sizeof(e)) < 0 ||
	    bundle_add_file(ctx->bundle, "heap.base.pb.gz", "heap", "pprof") < 0) {
		bundle_add_error(ctx->bundle, "heap", "baseline: %s", e);
		return 0;
	}
	if (heapdiff_write(base, now, diff, e, sizeof(e)) < 0) {
		bundle_add_error(ctx->bundle, "heap", "heap diff: %s", e);
		return 0;
	}
	if (bundle_add_file(ctx->bundle, "heap.diff.txt", "heap", "text") < 0)
		bundle_add_error(ctx->bundle, "heap", "heap diff: cannot register heap.diff.txt");
	return 0;
}

/* cpu.folded beside cpu.pb.gz, as for native targets; an extra: its failure leaves cpu.pb.gz. */
static int fold_cpu(struct capture_ctx *ctx)
{
	char pb[PATH_MAX], folded[PATH_MAX], e[512];
	snprintf(pb, sizeof(pb), "%s/cpu.pb.gz", bundle_dir(ctx->bundle));
	snprintf(folded, sizeof(folded), "%s/cpu.folded", bundle_dir(ctx->bundle));
	if (pprof_fold_file(pb, "samples", folded, e, sizeof(e)) < 0)
		bundle_add_error(ctx->bundle, "cpu", "folded: %s", e);
	else if (bundle_add_file(ctx->bundle, "cpu.folded", "cpu", "folded") < 0)
		bundle_add_error(ctx->bundle, "cpu", "folded: cannot register cpu.folded");
	return 0;
}

int go_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
	       size_t errlen)
{
	char path[128], name[64];
	int64_t ms;
	int rc;

	if (!ctx->go_url)
		return util_err(err, errlen, -EINVAL, "%s needs go.url", capture_kind_name(item->kind));
	switch (item->kind) {
	case K_HEAP:
		return capture_heap(ctx, err, errlen);
	case K_STACKS:
		return capture_goroutines(ctx, err, errlen);
	case K_GOROUTINES:
		return capture_goroutines(ctx, err, errlen);
	case K_CPU:
		ms = item->duration_ms > 0 ? item->duration_ms : GO_CPU_DEFAULT_MS;
		snprintf(path, sizeof(path), "/debug/pprof/profile?seconds=%lld",
			 (long long)((ms + 999) / 1000));
		rc = fetch_into(ctx, "cpu", path, "cpu.pb.gz", "pprof", GO_PROFILE_MAX_BYTES,
				ms + 15000, 0, err, errlen);
		return rc < 0 ? rc : fold_cpu(ctx);
	case K_TRACE:
		ms = item->duration_ms > 0 ? item->duration_ms : GO_TRACE_DEFAULT_MS;
		snprintf(path, sizeof(path), "/debug/pprof/trace?seconds=%lld",
			 (long long)((ms + 999) / 1000));
		return fetch_into(ctx, "trace", path, "trace.out", "trace", GO_TRACE_MAX_BYTES,
				  ms + 15000, 0, err, errlen);
	case K_ALLOCS:
	case K_BLOCK:
	case K_MUTEX:
	case K_THREADCREATE: {
		const char *k = capture_kind_name(item->kind);
		snprintf(path, sizeof(path), "/debug/pprof/%s", k);
		snprintf(name, sizeof(name), "%s.pb.gz", k);
		return fetch_into(ctx, k, path, name, "pprof", GO_PROFILE_MAX_BYTES, 30000, 0, err,
				  errlen);
	}
	case K_COMMAND:
	case K_LOCKS:
	case K_FDS:
	case K_HEAP_DUMP:
	case K_CORE:
	case K_COUNT:
		break;
	}
	return util_err(err, errlen, -EINVAL, "capture kind %s is not a Go capture",
		    capture_kind_name(item->kind));
}

int go_heap_baseline(const char *go_url, const char *dir)
{
	char tmp[PATH_MAX], dst[PATH_MAX], err[PATH_MAX + 256];
	struct pprof_profile *p = NULL;
	int rc = util_mkdir_p(dir, 0700);
	if (rc < 0) {
		log_warn("heap baseline failed", "dir=%s error=\"mkdir: %s\"", dir, strerror(-rc));
		return rc;
	}
	snprintf(tmp, sizeof(tmp), "%s/heap.base.pb.gz.tmp", dir);
	snprintf(dst, sizeof(dst), "%s/heap.base.pb.gz", dir);
	rc = go_fetch_to_file(go_url, GO_HEAP_PATH, tmp, GO_PROFILE_MAX_BYTES, 30000, 0, err,
			      sizeof(err));
	/* Keep the old baseline unless the new one is a real profile. */
	if (rc == 0)
		rc = pprof_decode_file(tmp, 0, &p, err, sizeof(err));
	pprof_free(p);
	if (rc == 0 && rename(tmp, dst) < 0) {
		rc = -errno;
		snprintf(err, sizeof(err), "rename %s: %s", dst, strerror(errno));
	}
	if (rc < 0) {
		unlink(tmp);
		log_warn("heap baseline failed", "url=%s dir=%s error=%s", go_url, dir, err);
		return rc;
	}
	log_debug("heap baseline taken", "url=%s dir=%s", go_url, dir);
	return 0;
}
