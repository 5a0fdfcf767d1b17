/* heapnative: the `heap` capture of a native process (smaps now, and what grew since a baseline).
 */
#include "capture/native/heapnative.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "capture/native/smaps.h"
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

/* Writes heap.diff.txt from the two copies already in the bundle. */
static int write_diff(const char *dir, char *err, size_t errlen)
{
	char base_p[PATH_MAX], now_p[PATH_MAX], out_p[PATH_MAX];
	struct smaps_table base, now;
	FILE *f;
	int rc;

	if (!util_snprintf(base_p, sizeof(base_p), "%s/smaps.base.txt", dir) ||
	    !util_snprintf(now_p, sizeof(now_p), "%s/smaps.txt", dir) ||
	    !util_snprintf(out_p, sizeof(out_p), "%s/heap.diff.txt", dir)) {
		snprintf(err, errlen, "bundle path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	rc = load_table(base_p, &base, err, errlen);
	if (rc < 0)
		return rc;
	rc = load_table(now_p, &now, err, errlen);
	if (rc < 0)
		goto out_base;
	f = fopen(out_p, "we");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "fopen(%s): %s", out_p, strerror(-rc));
		goto out_now;
	}
	rc = smaps_write_diff(f, &base, &now, DIFF_ROWS);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		snprintf(err, errlen, "write(%s): %s", out_p, strerror(-rc));
out_now:
	smaps_table_fini(&now);
out_base:
	smaps_table_fini(&base);
	return rc;
}

int heapnative_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		       size_t errlen)
{
	const char *dir = bundle_dir(ctx->bundle);
	char src[64], dst[PATH_MAX], base[PATH_MAX];
	struct stat st;
	int rc;

	UNUSED(item);
	snprintf(src, sizeof(src), "/proc/%d/smaps", (int)ctx->pid);
	if (!util_snprintf(dst, sizeof(dst), "%s/smaps.txt", dir)) {
		snprintf(err, errlen, "bundle path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	rc = copy_file(src, dst, err, errlen);
	if (rc < 0) {
		unlink(dst);
		return rc;
	}
	rc = bundle_add_file(ctx->bundle, "smaps.txt", "heap", "text");
	if (rc < 0) {
		snprintf(err, errlen, "register smaps.txt: %s", strerror(-rc));
		return rc;
	}

	if (!ctx->heap_baseline_dir ||
	    !util_snprintf(base, sizeof(base), "%s/smaps.base.txt", ctx->heap_baseline_dir) ||
	    stat(base, &st) < 0) {
		bundle_add_note(ctx->bundle, "heap",
				"no smaps baseline for this process: heap.diff.txt not written");
		return 0;
	}
	if (!util_snprintf(dst, sizeof(dst), "%s/smaps.base.txt", dir)) {
		snprintf(err, errlen, "bundle path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	rc = copy_file(base, dst, err, errlen);
	if (rc < 0)
		unlink(dst);
	if (rc == 0)
		rc = bundle_add_file(ctx->bundle, "smaps.base.txt", "heap", "text");
	if (rc == 0)
		rc = write_diff(dir, err, errlen);
	if (rc == 0)
		rc = bundle_add_file(ctx->bundle, "heap.diff.txt", "heap", "text");
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "heap diff: %s", strerror(-rc));
	return rc;
}
