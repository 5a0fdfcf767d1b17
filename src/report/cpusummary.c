/* cpusummary: the busiest functions of a CPU profile (pprof), as `hound report` prints them. */
#include "report/cpusummary.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pprof_decode.h"
#include "lib/util.h"

struct fn_total {
	uint32_t func;
	int64_t flat, cum;
};

static int by_flat_then_cum(const void *x, const void *y)
{
	const struct fn_total *a = x, *b = y;
	if (a->flat != b->flat)
		return a->flat < b->flat ? 1 : -1;
	if (a->cum != b->cum)
		return a->cum < b->cum ? 1 : -1;
	return (a->func > b->func) - (a->func < b->func);
}

/* The sample count: "samples" in hound's and Go's CPU profiles, else the first type. */
static size_t count_index(const struct pprof_profile *p)
{
	int i = pprof_sample_index(p, "samples");
	return i >= 0 ? (size_t)i : 0;
}

int cpusummary_print(const char *path, FILE *out, size_t n)
{
	struct pprof_profile *p = NULL;
	char err[256];
	int rc = pprof_decode_file(path, 0, &p, err, sizeof(err));
	if (rc < 0)
		return rc;
	if (p->nsample_types == 0) {
		pprof_free(p);
		return -EINVAL;
	}
	size_t ix = count_index(p);
	struct fn_total *t = xcalloc(p->nfunctions + 1, sizeof(*t));
	size_t *seen = xcalloc(p->nfunctions + 1, sizeof(*seen)); /* sample number + 1 */
	int64_t total = 0;

	for (size_t f = 0; f < p->nfunctions; f++)
		t[f].func = (uint32_t)f;
	for (size_t s = 0; s < p->nsamples; s++) {
		const struct pprof_sample *sm = &p->samples[s];
		int64_t v = sm->values[ix];
		bool leaf = true;
		total += v;
		for (size_t k = 0; k < sm->nlocs; k++) {
			const struct pprof_location *loc = &p->locations[sm->locs[k]];
			for (size_t l = 0; l < loc->nlines; l++) {
				uint32_t f = loc->lines[l].func;
				if (leaf)
					t[f].flat += v;
				leaf = false;
				if (seen[f] != s + 1) {
					seen[f] = s + 1;
					t[f].cum += v;
				}
			}
		}
	}
	qsort(t, p->nfunctions, sizeof(*t), by_flat_then_cum);
	fprintf(out, "  %" PRId64 " %s\n", total, p->sample_types[ix].type);
	if (total > 0)
		fprintf(out, "  %6s %6s  %s\n", "flat%", "cum%", "function");
	for (size_t i = 0; i < n && i < p->nfunctions && total > 0 && t[i].cum > 0; i++) {
		const char *name = p->functions[t[i].func].name;
		fprintf(out, "  %5.1f%% %5.1f%%  %s\n", 100.0 * (double)t[i].flat / (double)total,
			100.0 * (double)t[i].cum / (double)total, name && *name ? name : "?");
	}
	free(seen);
	free(t);
	pprof_free(p);
	return 0;
}
