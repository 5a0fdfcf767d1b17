/*
 * report_gen: writes a synthetic CPU profile for bench/report.sh: N samples
 * over call chains 5..40 frames deep drawn from 400 functions, a few hot
 * roots and a long random tail, like a busy service's profile.
 *   report_gen OUT.pb.gz N
 */
#include <stdio.h>
#include <stdlib.h>

#include "lib/pprof.h"

int main(int argc, char **argv)
{
	char names[400][24], err[256];
	if (argc != 3) {
		fprintf(stderr, "usage: report_gen OUT.pb.gz NSAMPLES\n");
		return 2;
	}
	int n = atoi(argv[2]);
	for (int i = 0; i < 400; i++)
		snprintf(names[i], sizeof(names[i]), "service.fn_%03d", i);
	pprof_builder *b = pprof_builder_new();
	pprof_add_sample_type(b, "samples", "count");
	pprof_add_sample_type(b, "cpu", "nanoseconds");
	srand(1);
	for (int s = 0; s < n; s++) {
		struct pprof_frame fr[40];
		int d = 5 + rand() % 36;
		for (int k = 0; k < d; k++) { /* root first here, leaf first in fr */
			int f = (k * 7 + rand() % (k < 3 ? 3 : 400)) % 400;
			fr[d - 1 - k] = (struct pprof_frame){.address = 0x1000 + (uint64_t)f * 16,
							     .function = names[f]};
		}
		int64_t v[2] = {1 + rand() % 5, 0};
		v[1] = v[0] * 10000000;
		pprof_add_stack(b, fr, (size_t)d, v, 2, NULL, 0);
	}
	int rc = pprof_write_file(b, argv[1], err, sizeof(err));
	pprof_builder_free(b);
	if (rc < 0)
		fprintf(stderr, "report_gen: %s\n", err);
	return rc < 0;
}
