/* cmd_report: `hound report BUNDLE_DIR`, a human summary of a bundle. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "lib/heapdiff.h"
#include "lib/metric.h"
#include "lib/util.h"
#include "report/cpusummary.h"
#include "report/gosummary.h"
#include "report/memsummary.h"
#include "report/stacksummary.h"

static void report_usage(FILE *out)
{
	fprintf(out, "usage: hound report BUNDLE_DIR\n\n"
		     "Prints a summary of a bundle: why it was taken, the process, the files and\n"
		     "their sizes, the capture errors, the top heap growth, the busiest functions\n"
		     "of CPU profiles, the largest goroutine and thread groups and the first\n"
		     "stacks.\n");
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "-";
}

static void print_section(const char *dir, const char *name, const char *title, int max_lines)
{
	char path[PATH_MAX], line[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	printf("\n%s (%s):\n", title, name);
	for (int n = 0; n < max_lines && fgets(line, sizeof(line), f); n++)
		printf("  %s", line);
	fclose(f);
}

int cmd_report(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		report_usage(stdout);
		return EXIT_OK;
	}
	if (argc != 2) {
		report_usage(stderr);
		return EXIT_USAGE;
	}
	const char *dir = argv[1];
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	json_error_t jerr;
	json_t *m = json_load_file(path, 0, &jerr);
	if (!m) {
		if (access(path, R_OK) != 0)
			fprintf(stderr, "hound report: %s: %s (is %s a bundle directory?)\n", path,
				strerror(errno), dir);
		else
			fprintf(stderr, "hound report: %s:%d:%d: %s\n", path, jerr.line, jerr.column, jerr.text);
		return EXIT_RUNTIME;
	}
	json_t *trig = json_object_get(m, "trigger");
	json_t *proc = json_object_get(m, "process");
	printf("bundle   %s\n", str(m, "id"));
	printf("target   %s   rule %s   trigger %s\n", str(m, "target"), str(m, "rule"), str(trig, "kind"));
	printf("reason   %s\n", str(m, "reason"));
	if (!strcmp(str(trig, "kind"), "alert")) {
		/* The alert's own words: which alert, and where to see it. */
		const char *k;
		json_t *v;
		printf("alert   ");
		json_object_foreach(json_object_get(trig, "labels"), k, v)
			printf(" %s=%s", k, json_is_string(v) ? json_string_value(v) : "?");
		printf("\n");
		if (json_is_string(json_object_get(trig, "generator_url")))
			printf("source   %s\n", str(trig, "generator_url"));
	}
	printf("process  pid %lld  comm %s  started %s\n", json_integer_value(json_object_get(proc, "pid")),
	       str(proc, "comm"), str(proc, "start_time"));
	printf("cmdline  %s\n", str(proc, "cmdline"));
	printf("host     %s   captured %s .. %s\n", str(m, "host"), str(m, "started_at"), str(m, "finished_at"));

	json_t *hist = json_object_get(m, "history");
	if (json_array_size(hist) > 0) {
		printf("history  ");
		size_t i;
		json_t *pt;
		int mid = metric_by_name(str(trig, "metric"));
		json_array_foreach(hist, i, pt) {
			double v = json_number_value(json_object_get(pt, "value"));
			char b[32];
			if (mid >= 0)
				metric_format((enum metric_id)mid, v, b, sizeof(b));
			else
				snprintf(b, sizeof(b), "%g", v);
			printf("%s%s", i ? " " : "", b);
		}
		printf("  (%s)\n", str(trig, "metric"));
	}

	printf("\nfiles:\n");
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(m, "files"), i, f)
		printf("  %-22s %-10s %10lld bytes  %s\n", str(f, "name"), str(f, "kind"),
		       json_integer_value(json_object_get(f, "bytes")), str(f, "format"));
	json_t *errs = json_object_get(m, "errors");
	if (json_object_size(errs) > 0) {
		printf("\nerrors:\n");
		const char *k;
		json_t *v;
		json_object_foreach(errs, k, v) printf("  %-12s %s\n", k, json_string_value(v));
	}
	json_t *notes = json_object_get(m, "notes");
	if (json_object_size(notes) > 0) {
		printf("\nnotes:\n");
		const char *k;
		json_t *v;
		json_object_foreach(notes, k, v) printf("  %-12s %s\n", k, json_string_value(v));
	}

	snprintf(path, sizeof(path), "%s/smaps_rollup.txt", dir);
	if (access(path, R_OK) == 0) {
		char vars[PATH_MAX];
		snprintf(vars, sizeof(vars), "%s/vars.json", dir);
		if (memsummary_print_rollup(path, access(vars, R_OK) == 0 ? vars : NULL, stdout) < 0)
			printf("\nmemory: smaps_rollup.txt is not readable\n");
	}
	snprintf(path, sizeof(path), "%s/heap.diff.txt", dir);
	if (access(path, R_OK) == 0) {
		/* native: code first (who touched the memory still held), then the mappings */
		bool native = memsummary_print_section(path, "# by mapping", NULL, 0) != -ENOENT;
		printf(native ? "\nwho holds memory, by code (heap.diff.txt):\n"
			      : "\ntop heap growth since the baseline (heap.diff.txt):\n");
		if (heapdiff_print_top(path, stdout, 12) < 0)
			print_section(dir, "heap.diff.txt", "heap growth", 15);
		else if (native)
			memsummary_print_section(path, "# by mapping", stdout, 8);
	}
	static const struct {
		const char *file, *title;
	} cpu[] = {
		{"cpu.pb.gz", "busiest functions (cpu.pb.gz)"},
		{"cpu.before.pb.gz", "busiest functions before the firing (cpu.before.pb.gz)"},
	};
	for (size_t c = 0; c < ARRAY_LEN(cpu); c++) {
		snprintf(path, sizeof(path), "%s/%s", dir, cpu[c].file);
		if (access(path, R_OK) != 0)
			continue;
		printf("\n%s:\n", cpu[c].title);
		if (cpusummary_print(path, stdout, 10) < 0)
			printf("  (not a readable profile)\n");
	}
	snprintf(path, sizeof(path), "%s/goroutines.txt", dir);
	if (access(path, R_OK) == 0) {
		printf("\nlargest goroutine groups (goroutines.txt):\n");
		if (gosummary_print(path, stdout, 8) < 0)
			printf("  (no goroutine in the dump)\n");
	}
	snprintf(path, sizeof(path), "%s/stacks.txt", dir);
	if (access(path, R_OK) == 0) {
		printf("\nlargest thread groups (stacks.txt):\n");
		if (stacksummary_print(path, stdout, 8) < 0)
			printf("  (no thread in the file)\n");
	}
	print_section(dir, "stacks.txt", "stacks, first lines", 25);
	json_decref(m);
	return EXIT_OK;
}
