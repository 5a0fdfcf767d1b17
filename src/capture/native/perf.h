/* perf: native CPU profiles with perf_event_open (and a ptrace fallback). */
#ifndef HOUND_PERF_H
#define HOUND_PERF_H

#include "capture/kind.h"

/* Capture kind `cpu` on a native process: writes cpu.pb.gz and cpu.folded. */
int perf_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err, size_t errlen);

#endif
