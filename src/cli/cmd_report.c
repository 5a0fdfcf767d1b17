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
#include "report/coresummary.h"
#include "report/cpusummary.h"
#include "report/gosummary.h"
#include "report/memsummary.h"
#include "report/jvmsummary.h"
#include "report/report_html.h"
#include "report/stacksummary.h"

static void report_usage(FILE *out)
{
	fprintf(out, "usage: hound report BUNDLE_DIR\n"
		     "       hound report --html BUNDLE_DIR [-o FILE]\n\n"
		     "Prints a summary of a bundle: why it was taken and the process, then the\n"
		     "findings (capture errors, RSS that is freed memory, who holds memory by code\n"
		     "and the top heap growth, the busiest functions of CPU profiles, locks, fds,\n"
		     "the largest goroutine and thread groups (a JVM's threads by state and top\n"
		     "application frame), the first stacks), then the files and their sizes.\n\n"
		     "  --html       write one self-contained HTML page instead: the same, with the\n"
		     "               metric's history as a chart and an interactive flame graph\n"
		     "               (click to zoom, search) for every profile of the bundle\n"
		     "  -o FILE      write the page to FILE instead of standard output\n");
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

/* The page for a bundle, to outfile (atomically: a reader never sees half a page) or stdout. */
static int report_html(const char *dir, const char *outfile)
{
	char err[512], tmp[PATH_MAX];
	FILE *out = stdout;
	if (outfile) {
		if (!util_snprintf(tmp, sizeof(tmp), "%s.tmp", outfile) || !(out = fopen(tmp, "w"))) {
			fprintf(stderr, "hound report: cannot create %s: %s\n", outfile, strerror(errno));
			return EXIT_RUNTIME;
		}
	}
	int rc = report_html_write(dir, out, err, sizeof(err));
	if (outfile) {
		if (fclose(out) != 0 && rc == 0)
			rc = util_err(err, sizeof(err), -errno, "%s: %s", tmp, strerror(errno));
		if (rc == 0 && rename(tmp, outfile) < 0)
			rc = util_err(err, sizeof(err), -errno, "rename %s: %s", outfile, strerror(errno));
		if (rc < 0)
			unlink(tmp);
	}
	if (rc < 0) {
		fprintf(stderr, "hound report: %s\n", err);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	const char *dir = NULL, *outfile = NULL;
	bool html = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			report_usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--html")) {
			html = true;
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			outfile = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "hound report: unknown option %s\n", argv[i]);
			report_usage(stderr);
			return EXIT_USAGE;
		} else if (!dir) {
			dir = argv[i];
		} else {
			report_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!dir || (outfile && !html)) {
		if (outfile)
			fprintf(stderr, "hound report: -o goes with --html\n");
		report_usage(stderr);
		return EXIT_USAGE;
	}
	if (html)
		return report_html(dir, outfile);
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

	/* The findings first (what failed, what grew, what burned), then the inventory. */
	json_t *errs = json_object_get(m, "errors");
	if (json_object_size(errs) > 0) {
		printf("\nerrors:\n");
		const char *k;
		json_t *v;
		json_object_foreach(errs, k, v) printf("  %-12s %s\n", k, json_string_value(v));
	}
	snprintf(path, sizeof(path), "%s/smaps_rollup.txt", dir);
	if (access(path, R_OK) == 0) {
		char vars[PATH_MAX];
		snprintf(vars, sizeof(vars), "%s/vars.json", dir);
		if (memsummary_print_rollup(path, access(vars, R_OK) == 0 ? vars : NULL, stdout) < 0)
			printf("\nmemory: smaps_rollup.txt is not readable\n");
	}

	/* A core dump: how big, how it was taken, how long the process was stopped, how to open it. */
	json_t *cnotes = json_object_get(m, "notes"), *cf;
	size_t ci;
	json_array_foreach(json_object_get(m, "files"), ci, cf) {
		if (strcmp(str(cf, "kind"), "core"))
			continue;
		struct coresummary cs = {
			.file = str(cf, "name"),
			.file_bytes = json_integer_value(json_object_get(cf, "bytes")),
			.memory_bytes = json_string_value(json_object_get(cnotes, "core.memory_bytes")),
			.method = json_string_value(json_object_get(cnotes, "core.method")),
			.freeze_ms = json_string_value(json_object_get(cnotes, "core.freeze_ms")),
			.fallback = json_string_value(json_object_get(cnotes, "core.fallback")),
			.open = json_string_value(json_object_get(cnotes, "core.open")),
		};
		coresummary_print(&cs, stdout);
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
	print_section(dir, "locks.txt", "threads waiting on locks, deadlock cycles first", 20);
	print_section(dir, "fds.txt", "open files by what they point to", 12);
	snprintf(path, sizeof(path), "%s/goroutines.txt", dir);
	if (access(path, R_OK) == 0) {
		printf("\nlargest goroutine groups (goroutines.txt):\n");
		if (gosummary_print(path, stdout, 8) < 0)
			printf("  (no goroutine in the dump)\n");
	}
	snprintf(path, sizeof(path), "%s/threads.txt", dir);
	if (access(path, R_OK) == 0) {
		printf("\nJava threads by state and top application frame (threads.txt):\n");
		if (jvmsummary_print(path, stdout, 10) < 0)
			printf("  (no thread in the dump)\n");
	}
	snprintf(path, sizeof(path), "%s/stacks.txt", dir);
	if (access(path, R_OK) == 0) {
		printf("\nlargest thread groups (stacks.txt):\n");
		if (stacksummary_print(path, stdout, 8) < 0)
			printf("  (no thread in the file)\n");
	}
	print_section(dir, "stacks.txt", "stacks, first lines", 25);
	printf("\nfiles:\n");
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(m, "files"), i, f)
		printf("  %-22s %-10s %10lld bytes  %s\n", str(f, "name"), str(f, "kind"),
		       json_integer_value(json_object_get(f, "bytes")), str(f, "format"));
	json_t *notes = json_object_get(m, "notes");
	if (json_object_size(notes) > 0) {
		printf("\nnotes:\n");
		const char *k;
		json_t *v;
		json_object_foreach(notes, k, v) printf("  %-12s %s\n", k, json_string_value(v));
	}

	json_decref(m);
	return EXIT_OK;
}
