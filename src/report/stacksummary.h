/* stacksummary: threads grouped by call chain, from a stacks.txt, as `hound report` prints them. */
#ifndef HOUND_STACKSUMMARY_H
#define HOUND_STACKSUMMARY_H

#include <stddef.h>
#include <stdio.h>

/*
 * Reads a stacks.txt (eu-stack style, as hound writes it) and prints the
 * number of threads and the n largest groups of threads with the same call
 * chain, each named by its innermost frame outside the C library and by the
 * frame it waits in: a thread pile-up shows as one big group. Returns 0, or
 * -errno / -EINVAL (no thread in the file).
 */
int stacksummary_print(const char *path, FILE *out, size_t n);

#endif
