/* core_write: an ELF core's bytes (header, program headers, notes, memory) streamed to a core_out. */
#ifndef HOUND_CORE_WRITE_H
#define HOUND_CORE_WRITE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/native/core_maps.h"
#include "capture/native/core_out.h"
#include "capture/native/core_snap.h"
#include "lib/util.h"

struct core_write_stats {
	uint64_t mem_bytes;        /* memory bytes written (before compression) */
	uint64_t unreadable;       /* bytes that could not be read, written as zeros */
	size_t nloads;             /* PT_LOAD segments */
};

/*
 * Writes the core of snapshot s: memory is read from /proc/s->src/mem in the
 * ranges v[] select (their rule), with s->patch's original bytes put back.
 * notes is the PT_NOTE content (core_notes_build). stop, when set, ends the
 * write early with -ECANCELED. Returns 0 or -errno with a sentence in err.
 */
int core_write_elf(core_out *o, const struct core_snap *s, struct core_vma *v, size_t n,
		   const struct util_buf *notes, volatile sig_atomic_t *stop, struct core_write_stats *st,
		   char *err, size_t errlen);

#endif
