/* gosummary: goroutines grouped by state and stack, from a debug=2 dump, as `hound report` prints them. */
#ifndef HOUND_GOSUMMARY_H
#define HOUND_GOSUMMARY_H

#include <stddef.h>
#include <stdio.h>

/*
 * Reads a goroutine dump (goroutines.txt: /debug/pprof/goroutine?debug=2)
 * and prints the total and the n largest groups of goroutines that share a
 * state and a stack, each named by its innermost frame outside the runtime
 * and by the function that created them: a leak shows as one big group.
 * Returns 0, or -errno / -EINVAL (no goroutine in the file).
 */
int gosummary_print(const char *path, FILE *out, size_t n);

#endif
