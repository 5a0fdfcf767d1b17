/* core: the `core` capture kind: an ELF core dump of a native process, taken with a short freeze. */
#ifndef HOUND_CORE_H
#define HOUND_CORE_H

#include <stddef.h>

#include "capture/kind.h"
#include "config/config.h"

/*
 * Capture kind `core`: snapshots the process (a copy-on-write child forked
 * inside it, or stop-and-copy when that is not safe) and writes core.zst into
 * the bundle: an ELF core gdb, eu-stack and dlv read. The size estimate from
 * the mappings must fit the disk budget (ctx->disk_left and the filesystem's
 * free space) or the dump is refused. Manifest notes record the method, the
 * freeze, any fallback and the command that opens the core. Returns 0 or
 * -errno with a sentence in err.
 */
int core_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err, size_t errlen);

#endif
