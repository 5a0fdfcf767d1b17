/* cpusummary: the busiest functions of a CPU profile (pprof), as `hound report` prints them. */
#ifndef HOUND_CPUSUMMARY_H
#define HOUND_CPUSUMMARY_H

#include <stddef.h>
#include <stdio.h>

/*
 * Decodes the profile at path (cpu.pb.gz, cpu.before.pb.gz: hound's native
 * profiles or Go's) and prints its total and the n functions with the most
 * samples of their own ("flat"), each with the share of samples it is on the
 * stack of ("cum"), as `go tool pprof -top` does (ties, callers with no
 * samples of their own, by cum). Returns 0, or -errno / -EINVAL with nothing
 * printed.
 */
int cpusummary_print(const char *path, FILE *out, size_t n);

#endif
