/* heapnative: the `heap` capture of a native process (smaps now, and what grew since a baseline). */
#ifndef HOUND_HEAPNATIVE_H
#define HOUND_HEAPNATIVE_H

#include <stddef.h>
#include <sys/types.h>

#include "capture/kind.h"
#include "config/config.h"

/* How long a native heap capture samples page faults when the item has no duration. */
#define HEAPNATIVE_DEFAULT_MS 10000

/* Largest smaps text parsed for heap.diff.txt (the copies themselves are not capped). */
#define HEAPNATIVE_MAX_PARSE (64u << 20)

/*
 * Copies /proc/PID/smaps into DIR/smaps.base.txt (DIR is created; the file is
 * replaced atomically, so a half-written baseline is never read). Called when
 * a process is first seen. Returns 0 or -errno.
 */
int heapnative_baseline(pid_t pid, const char *dir);

/*
 * Capture kind `heap` for native processes: samples the page faults of the
 * process for the item's duration (faults.pb.gz, faults.folded: which code
 * made memory resident), writes smaps.txt and smaps_rollup.txt and, when
 * ctx->heap_baseline_dir holds smaps.base.txt, copies it in as
 * smaps.base.txt. heap.diff.txt names code first (the function that touched
 * the most memory is its first data line), then the mappings whose
 * Rss/Anonymous grew since the baseline. A refused fault profile is an
 * `errors` entry "heap.faults", not a failure of the kind. Returns 0 or
 * -errno with a sentence in err.
 */
int heapnative_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		       size_t errlen);

/*
 * Copies /proc/PID/smaps_rollup into the bundle as smaps_rollup.txt (every
 * heap capture, Go too: LazyFree there explains RSS that is not live data).
 * A failure is a manifest note. Returns 0 or -errno.
 */
int heapnative_rollup(const struct capture_ctx *ctx);

#endif
