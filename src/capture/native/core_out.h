/* core_out: the core file as it is written: zstd-compressed (core.zst) when built with libzstd. */
#ifndef HOUND_CORE_OUT_H
#define HOUND_CORE_OUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct core_out core_out;

/* The file name in the bundle: "core.zst", or "core" in a build without libzstd. */
const char *core_out_name(void);
/* The manifest format of that file: "elf-core+zstd" or "elf-core". */
const char *core_out_format(void);

/*
 * Creates path (O_EXCL) for a streamed write. limit: the most bytes the file
 * may reach (0: none); a write past it fails with -EFBIG and the caller
 * removes the file. Returns 0 and *out, or -errno.
 */
int core_out_open(const char *path, uint64_t limit, core_out **out);
int core_out_write(core_out *o, const void *buf, size_t len);
/* Bytes handed in, and bytes on disk so far. */
uint64_t core_out_in(const core_out *o);
uint64_t core_out_disk(const core_out *o);
/* Flushes, fsyncs and closes; frees o. Returns 0 or -errno. */
int core_out_finish(core_out *o);
/* Closes and removes the file; frees o (NULL is fine). */
void core_out_abort(core_out *o);

#endif
