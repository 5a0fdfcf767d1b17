/* pprof_fold: a decoded pprof profile as folded stacks, the text flamegraph.pl and speedscope read.
 */
#include "lib/pprof_fold.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

struct line {
	char *text;
	int64_t value;
};

static int line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

static void put_name(FILE *m, const char *name)
{
	if (!name || !*name)
		name = "?";
	for (const char *c = name; *c; c++)
		fputc(*c == ';' ? ':' : (*c == '\n' || *c == '\r') ? ' ' : *c, m);
}

int pprof_fold(const struct pprof_profile *p, const char *type, FILE *out)
{
	if (p->nsample_types == 0)
		return -EINVAL;
	int ix = pprof_sample_index(p, type ? type : "samples");
	if (ix < 0)
		ix = 0;
	struct line *lines = xcalloc(p->nsamples + 1, sizeof(*lines));
	size_t n = 0;
	for (size_t s = 0; s < p->nsamples; s++) {
		const struct pprof_sample *sm = &p->samples[s];
		if (sm->values[ix] == 0 || sm->nlocs == 0)
			continue;
		size_t len = 0;
		FILE *m = open_memstream(&lines[n].text, &len);
		bool first = true;
		/* locations are leaf first, a location's lines innermost first: both reversed */
		for (size_t k = sm->nlocs; k-- > 0;) {
			const struct pprof_location *loc = &p->locations[sm->locs[k]];
			for (size_t l = loc->nlines; l-- > 0;) {
				if (!first)
					fputc(';', m);
				put_name(m, p->functions[loc->lines[l].func].name);
				first = false;
			}
			if (loc->nlines == 0) { /* an address without symbols */
				if (!first)
					fputc(';', m);
				fprintf(m, "0x%llx", (unsigned long long)loc->address);
				first = false;
			}
		}
		fclose(m);
		lines[n++].value = sm->values[ix];
	}
	qsort(lines, n, sizeof(*lines), line_cmp);
	for (size_t i = 0; i < n; i++) {
		int64_t v = lines[i].value;
		while (i + 1 < n && !strcmp(lines[i].text, lines[i + 1].text))
			v += lines[++i].value;
		fprintf(out, "%s %lld\n", lines[i].text, (long long)v);
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i].text);
	free(lines);
	return 0;
}

int pprof_fold_file(const char *pb_path, const char *type, const char *out_path, char *err,
		    size_t errlen)
{
	struct pprof_profile *p = NULL;
	char derr[256], tmp[4096];
	int rc = pprof_decode_file(pb_path, 0, &p, derr, sizeof(derr));
	if (rc < 0)
		return util_err(err, errlen, rc, "%s", derr);
	if (!util_snprintf(tmp, sizeof(tmp), "%s.tmp", out_path)) {
		pprof_free(p);
		return util_err(err, errlen, -ENAMETOOLONG, "%s: path too long", out_path);
	}
	FILE *f = fopen(tmp, "we");
	if (!f) {
		rc = -errno;
		pprof_free(p);
		return util_err(err, errlen, rc, "open %s: %s", tmp, strerror(-rc));
	}
	rc = pprof_fold(p, type, f);
	pprof_free(p);
	if (rc < 0) {
		fclose(f);
		unlink(tmp);
		return util_err(err, errlen, rc, "%s has no sample type", pb_path);
	}
	if (fflush(f) != 0 || ferror(f))
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, out_path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return util_err(err, errlen, rc, "write %s: %s", out_path, strerror(-rc));
	}
	return 0;
}
