/* flame: a pprof profile as a call tree (root first), the data behind the report's flame graphs. */
#ifndef HOUND_FLAME_H
#define HOUND_FLAME_H

#include <stddef.h>
#include <stdint.h>

#include "lib/pprof_decode.h"

typedef struct flame flame;

/*
 * Merges every sample of p into a tree keyed by function name, from the
 * outermost frame down (inlined frames included), each node holding the sum
 * of the samples it is on the stack of. The value is the sample type named
 * type, else "inuse_space", else the profile's last type (pprof's default).
 * Returns a tree the caller frees with flame_free; never NULL.
 */
flame *flame_from_profile(const struct pprof_profile *p, const char *type);

/*
 * Adds base, taken earlier, as the tree's "before" values (same sample type
 * as the tree): the tree becomes a differential flame graph whose widths are
 * the current values and whose colours say what grew. 0, or -EINVAL when
 * base lacks the sample type.
 */
int flame_add_base(flame *f, const struct pprof_profile *base);

/* Sum over all samples of the chosen type; its type and unit ("cpu", "nanoseconds"). */
int64_t flame_total(const flame *f);
const char *flame_type(const flame *f);
const char *flame_unit(const flame *f);
size_t flame_nodes(const flame *f);

/*
 * The tree as one JSON value for the page's script (malloc'd, NUL-terminated,
 * its length in *len; the caller frees it):
 * {"type","unit","total","diff","names":[...],"stride":3|4,"nodes":[...]}, the
 * nodes in pre-order as flat records (name index, value, [base,] depth).
 * Nodes worth less than 1/min_share of the total (before and after, for a
 * diff) are left out with their subtrees, and at most max_nodes are written,
 * the widest first, so a huge profile stays a page a browser renders at once.
 */
char *flame_to_json(const flame *f, unsigned min_share, size_t max_nodes, size_t *len);

void flame_free(flame *f);

#endif
