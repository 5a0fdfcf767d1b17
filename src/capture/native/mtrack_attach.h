/* mtrack_attach: finds the allocator a process really uses and attaches the malloc probes to it. */
#ifndef HOUND_MTRACK_ATTACH_H
#define HOUND_MTRACK_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "capture/native/mtrack_bpf.h"

/*
 * Whether the file mapped at path may hold the allocator of a process whose
 * executable is exe: the executable itself (static builds, an allocator
 * linked in), the C library, and the known malloc replacements (jemalloc,
 * tcmalloc, mimalloc, snmalloc). Pure.
 */
bool mtrack_attach_candidate(const char *path, const char *exe);

/*
 * Attaches m to every allocator function of every candidate file the
 * process maps executable (/proc/PID/maps), opened through /proc/PID/root
 * so a process in its own mount namespace (a container) gets its own
 * libraries. Writes the files' names into mods ("libc.so.6", comma
 * separated). Returns the number of functions attached, -ENOENT when no
 * mapped file defines malloc, or -errno with a sentence in err.
 */
int mtrack_attach_process(mtrack_bpf *m, pid_t pid, char *mods, size_t modslen, char *err,
			  size_t errlen);

#endif
