/* gocapture: capture kinds on Go targets, from the net/http/pprof endpoints at go.url. */
#ifndef HOUND_GOCAPTURE_H
#define HOUND_GOCAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/kind.h"

/* Per-file caps: a runaway endpoint cannot fill the spool. */
#define GO_PROFILE_MAX_BYTES ((uint64_t)64 << 20)
#define GO_DUMP_MAX_BYTES ((uint64_t)64 << 20)   /* goroutines.txt: kept truncated */
#define GO_TRACE_MAX_BYTES ((uint64_t)256 << 20)
#define GO_CPU_DEFAULT_MS 10000
#define GO_TRACE_DEFAULT_MS 5000

/*
 * Runs one capture kind against ctx->go_url and writes its files into the
 * bundle (SPEC section 3 names): heap (heap.pb.gz, plus heap.base.pb.gz and
 * heap.diff.txt when ctx->heap_baseline_dir holds a baseline), cpu
 * (cpu.pb.gz), goroutines (goroutines.pb.gz + goroutines.txt), allocs,
 * block, mutex, threadcreate (NAME.pb.gz), trace (trace.out), and for stacks
 * the goroutine files. Every file is registered with bundle_add_file.
 * Returns 0, or -errno with err filled; files of a failed kind are removed.
 */
int go_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
	       size_t errlen);

/*
 * Fetches the heap profile into dir/heap.base.pb.gz (replacing any older
 * one only once the new one is complete and decodes). Called when warm-up
 * ends and when a rule's cooldown expires without a firing. Returns 0 or
 * -errno; failures are logged.
 */
int go_heap_baseline(const char *go_url, const char *dir);

/*
 * Fetches go_url + path into the file at dest (created 0644), at most max
 * bytes. keep_partial keeps a truncated file when the cap is hit (and then
 * returns -EFBIG as well). Returns 0 or -errno with err filled.
 */
int go_fetch_to_file(const char *go_url, const char *path, const char *dest, uint64_t max,
		     int64_t timeout_ms, int keep_partial, char *err, size_t errlen);

#endif
