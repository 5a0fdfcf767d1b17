/* mtrack_attach: finds the allocator a process really uses and attaches the malloc probes to it. */
#ifndef HOUND_MTRACK_ATTACH_H
#define HOUND_MTRACK_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "capture/native/mtrack_bpf.h"

/*
 * Whether the file mapped at path is worth reading for an allocator: any
 * file still there (the executable itself, libc, a malloc replacement
 * whatever its name, preloaded or linked: libjemalloc, libasan ...). Which
 * of them is the allocator is decided by its symbols: those that define
 * malloc. exe is unused (kept for callers that know it). Pure.
 */
bool mtrack_attach_candidate(const char *path, const char *exe);

/*
 * Attaches m to every allocator function of every file the process maps
 * executable (/proc/PID/maps) that defines malloc, opened through /proc/PID/root
 * so a process in its own mount namespace (a container) gets its own
 * libraries. Writes the files' names into mods ("libc.so.6", comma
 * separated). Returns the number of functions attached, -ENOENT when no
 * mapped file defines malloc, or -errno with a sentence in err.
 */
int mtrack_attach_process(mtrack_bpf *m, pid_t pid, char *mods, size_t modslen, char *err,
			  size_t errlen);

#endif
