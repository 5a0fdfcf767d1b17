/* pprof_fold: a decoded pprof profile as folded stacks, the text flamegraph.pl and speedscope read.
 */
#ifndef HOUND_PPROF_FOLD_H
#define HOUND_PPROF_FOLD_H

#include <stddef.h>
#include <stdio.h>

#include "lib/pprof_decode.h"

/*
 * Writes one line per distinct call chain, "root;caller;leaf VALUE", sorted
 * and merged, inlined frames included; ';' and newlines in names become ':'
 * and ' '. VALUE is the sample type named type (NULL or absent: "samples",
 * else the first type). Samples of value 0 are left out. 0, or -EINVAL when
 * the profile has no sample type.
 */
int pprof_fold(const struct pprof_profile *p, const char *type, FILE *out);

/* Decodes pb_path and writes its folded form to out_path (via out_path.tmp). 0 or -errno, err set.
 */
int pprof_fold_file(const char *pb_path, const char *type, const char *out_path, char *err,
		    size_t errlen);

#endif
