/*
 * go_probe: drives the Go modules from the shell, for system tests and
 * bench/go.sh (not installed).
 *   go_probe sample GO_URL METRICS_URL|- COUNT INTERVAL_MS   one line per sample
 *   go_probe bench GO_URL METRICS_URL|- COUNT                 mean µs per sample
 *   go_probe dump PROFILE [TYPE]    total and per-sample "VALUE FRAME" (app frame)
 *   go_probe baseline GO_URL DIR    go_heap_baseline
 *   go_probe diff BASE NOW OUT      heapdiff_write, then the top 5 lines
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/gometrics.h"
#include "capture/go/gocapture.h"
#include "lib/heapdiff.h"
#include "lib/http_client.h"
#include "lib/pprof_decode.h"
#include "lib/util.h"

static const char *app_frame(const struct pprof_profile *p, const struct pprof_sample *s)
{
	const char *best = "(none)";
	int best_class = -1;
	for (size_t i = 0; i < s->nlocs; i++) {
		const struct pprof_location *l = &p->locations[s->locs[i]];
		for (size_t j = 0; j < l->nlines; j++) {
			const char *n = p->functions[l->lines[j].func].name;
			int c = heapdiff_frame_class(n);
			if (c == 2)
				return n;
			if (c > best_class) {
				best_class = c;
				best = n;
			}
		}
	}
	return best;
}

static int cmd_dump(int argc, char **argv)
{
	struct pprof_profile *p;
	char err[512];
	if (argc < 3)
		return 2;
	if (pprof_decode_file(argv[2], 0, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "go_probe: %s\n", err);
		return 1;
	}
	int ix = argc > 3 ? pprof_sample_index(p, argv[3]) : (int)p->nsample_types - 1;
	if (ix < 0) {
		fprintf(stderr, "go_probe: no sample type %s\n", argv[3]);
		pprof_free(p);
		return 1;
	}
	long long total = 0;
	for (size_t i = 0; i < p->nsamples; i++)
		total += p->samples[i].values[ix];
	printf("total %s %lld\n", p->sample_types[ix].type, total);
	for (size_t i = 0; i < p->nsamples; i++)
		printf("%lld %s\n", (long long)p->samples[i].values[ix], app_frame(p, &p->samples[i]));
	pprof_free(p);
	return 0;
}

static void print_sample(const struct proc_sample *s)
{
	for (int m = 0; m < M_COUNT; m++)
		if (s->valid & METRIC_BIT(m))
			printf("%s=%.9g ", metric_info(m)->name, s->v[m]);
	printf("\n");
}

static int cmd_sample(int argc, char **argv, bool bench)
{
	go_sampler *g;
	if (argc < 5)
		return 2;
	const char *murl = strcmp(argv[3], "-") ? argv[3] : NULL;
	int n = atoi(argv[4]);
	int64_t interval = argc > 5 ? atoll(argv[5]) : 1000;
	uint64_t need = GO_METRICS_MASK;
	if (!murl)
		need &= ~METRIC_BIT(M_SERIES);
	if (go_sampler_new(argv[2], murl, &g) < 0) {
		fprintf(stderr, "go_probe: bad URL\n");
		return 2;
	}
	int64_t t0 = util_mono_ns(), fails = 0;
	for (int i = 0; i < n; i++) {
		struct proc_sample s = { .mono_ms = util_mono_ms(), .wall_ms = util_wall_ms() };
		char err[512];
		int rc = go_sampler_sample(g, need, interval, &s, err, sizeof(err));
		if (rc < 0) {
			fails++;
			if (!bench)
				printf("error %s\n", err);
		}
		if (!bench) {
			print_sample(&s);
			fflush(stdout);
			if (i + 1 < n)
				usleep((useconds_t)interval * 1000);
		}
	}
	if (bench)
		printf("%.1f us/sample %lld errors\n", (double)(util_mono_ns() - t0) / n / 1000.0,
		       (long long)fails);
	go_sampler_free(g);
	return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
	char err[1024];
	if (argc < 2)
		return 2;
	http_global_init();
	if (strcmp(argv[1], "dump") == 0)
		return cmd_dump(argc, argv);
	if (strcmp(argv[1], "sample") == 0)
		return cmd_sample(argc, argv, false);
	if (strcmp(argv[1], "bench") == 0)
		return cmd_sample(argc, argv, true);
	if (strcmp(argv[1], "baseline") == 0 && argc == 4)
		return go_heap_baseline(argv[2], argv[3]) < 0;
	if (strcmp(argv[1], "diff") == 0 && argc == 5) {
		if (heapdiff_write(argv[2], argv[3], argv[4], err, sizeof(err)) < 0) {
			fprintf(stderr, "go_probe: %s\n", err);
			return 1;
		}
		return heapdiff_print_top(argv[4], stdout, 5) < 0;
	}
	fprintf(stderr, "go_probe: bad arguments\n");
	return 2;
}
