/* heapnative: the `heap` capture of a native process (smaps now, and what grew since a baseline). */
#ifndef HOUND_HEAPNATIVE_H
#define HOUND_HEAPNATIVE_H

#include <stddef.h>
#include <sys/types.h>

#include "capture/kind.h"
#include "config/config.h"

/* Largest smaps text parsed for heap.diff.txt (the copies themselves are not capped). */
#define HEAPNATIVE_MAX_PARSE (64u << 20)

/*
 * Copies /proc/PID/smaps into DIR/smaps.base.txt (DIR is created; the file is
 * replaced atomically, so a half-written baseline is never read). Called when
 * a process is first seen. Returns 0 or -errno.
 */
int heapnative_baseline(pid_t pid, const char *dir);

/*
 * Capture kind `heap` for native processes: writes smaps.txt into the bundle
 * and, when ctx->heap_baseline_dir holds smaps.base.txt, copies it in as
 * smaps.base.txt and writes heap.diff.txt (mappings whose Rss/Anonymous grew,
 * largest first, and a total line). Without a baseline a manifest note says
 * why there is no diff. Returns 0 or -errno with a sentence in err.
 */
int heapnative_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		       size_t errlen);

#endif
