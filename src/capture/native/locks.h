/* locks: the `locks` capture kind, the lock wait-for graph as locks.txt. */
#ifndef HOUND_LOCKS_H
#define HOUND_LOCKS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "capture/kind.h"

/*
 * Writes the wait-for graph of pid to out: a header, then one line per
 * thread waiting on a held lock, threads in cycles first ("cycle N"), each
 * with its name, its innermost own function, the lock and the owner with its
 * function. Functions come from one brief ptrace unwind after the graph is
 * read; without ptrace they print as "?" and the graph is still written.
 * Returns 0 or -errno with a sentence in err.
 */
int locks_dump(pid_t pid, FILE *out, char *err, size_t errlen);

/* Capture kind `locks`: writes locks.txt into the bundle. */
int locks_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		  size_t errlen);

#endif
