/* report_html: one bundle as a self-contained HTML page (inline CSS, script and SVG). */
#include "report/report_html.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bundle/bundle_read.h"
#include "lib/heapdiff.h"
#include "lib/metric.h"
#include "lib/pprof_decode.h"
#include "lib/util.h"
#include "report/cpusummary.h"
#include "report/flame.h"
#include "report/gosummary.h"
#include "report/html.h"
#include "report/report_assets.h"
#include "report/report_chart.h"
#include "report/stacksummary.h"

/* Frames under 1/2000 of a profile are left out, and at most this many per graph. */
#define FLAME_MIN_SHARE 2000
#define FLAME_MAX_NODES 6000
#define TEXT_MAX_LINES	60

struct page {
	FILE *out;
	const char *dir;
	json_t *m;
	char nonce[33];
	int ngraphs;
};

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static bool have(const struct page *pg, const char *name)
{
	char path[PATH_MAX];
	return util_snprintf(path, sizeof(path), "%s/%s", pg->dir, name) && access(path, R_OK) == 0;
}

static void esc(struct page *pg, const char *s)
{
	html_escape(pg->out, s);
}

static void row(struct page *pg, const char *k, const char *v)
{
	if (!v || !*v)
		return;
	fprintf(pg->out, "<tr><td>%s</td><td>", k);
	esc(pg, v);
	fputs("</td></tr>\n", pg->out);
}

/* Text a summary function prints, as an escaped <pre>; false when it had nothing to say. */
typedef int (*summary_fn)(const char *path, FILE *out, size_t n);

static bool summary_pre(struct page *pg, const char *file, const char *title, summary_fn fn,
			size_t n)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	if (!have(pg, file) || !util_snprintf(path, sizeof(path), "%s/%s", pg->dir, file))
		return false;
	FILE *ms = open_memstream(&buf, &len);
	if (!ms)
		return false;
	int rc = fn(path, ms, n);
	fclose(ms);
	fprintf(pg->out, "<h3>%s <span class=\"muted\">(", title);
	esc(pg, file);
	fputs(")</span></h3>\n<pre>", pg->out);
	esc(pg, rc < 0 ? "(nothing readable in this file)" : buf);
	fputs("</pre>\n", pg->out);
	free(buf);
	return true;
}

static int head_lines(const char *path, FILE *out, size_t n);

/* Go's diff has a header to summarise; a native one (smaps growth) is shown as written. */
static int heap_top(const char *path, FILE *out, size_t n)
{
	return heapdiff_print_top(path, out, (int)n) == 0 ? 0 : head_lines(path, out, n);
}

/* The first lines of a text file, for files without a summary of their own (locks, fds). */
static int head_lines(const char *path, FILE *out, size_t n)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	size_t i = 0;
	for (; i < n && fgets(line, sizeof(line), f); i++)
		fputs(line, out);
	if (fgets(line, sizeof(line), f))
		fputs("...\n", out);
	fclose(f);
	return i ? 0 : -EINVAL;
}

static void why(struct page *pg)
{
	json_t *m = pg->m, *trig = json_object_get(m, "trigger"),
	       *proc = json_object_get(m, "process");
	char b[64];
	FILE *o = pg->out;
	int mid = metric_by_name(str(trig, "metric"));

	fputs("<section id=\"why\"><h2>Why it fired</h2>\n<table class=\"kv\">\n", o);
	row(pg, "reason", str(m, "reason"));
	row(pg, "target", str(m, "target"));
	row(pg, "rule", str(m, "rule"));
	row(pg, "trigger", str(trig, "kind"));
	row(pg, "metric", str(trig, "metric"));
	static const char *const nums[] = {"value", "avg", "threshold"};
	for (size_t i = 0; i < ARRAY_LEN(nums); i++) {
		json_t *v = json_object_get(trig, nums[i]);
		if (!json_is_number(v))
			continue;
		if (mid >= 0)
			metric_format((enum metric_id)mid, json_number_value(v), b, sizeof(b));
		else
			snprintf(b, sizeof(b), "%g", json_number_value(v));
		row(pg, nums[i], b);
	}
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(trig, "labels"), k, v)
	{
		fputs("<tr><td>alert label</td><td>", o);
		esc(pg, k);
		fputs("=", o);
		esc(pg, json_is_string(v) ? json_string_value(v) : "?");
		fputs("</td></tr>\n", o);
	}
	/* shown as text, never as a link: the URL came from whoever sent the alert */
	row(pg, "alert source", str(trig, "generator_url"));
	if (json_is_integer(json_object_get(proc, "pid"))) {
		snprintf(b, sizeof(b), "%lld", json_integer_value(json_object_get(proc, "pid")));
		row(pg, "pid", b);
	}
	row(pg, "comm", str(proc, "comm"));
	row(pg, "cmdline", str(proc, "cmdline"));
	row(pg, "exe", str(proc, "exe"));
	row(pg, "started", str(proc, "start_time"));
	row(pg, "host", str(m, "host"));
	row(pg, "captured", str(m, "started_at"));
	row(pg, "finished", str(m, "finished_at"));
	fputs("</table>\n", o);

	json_t *hist = json_object_get(m, "history");
	size_t n = json_array_size(hist);
	if (n > 0) {
		double *vals = xcalloc(n, sizeof(*vals));
		for (size_t i = 0; i < n; i++)
			vals[i] =
			    json_number_value(json_object_get(json_array_get(hist, i), "value"));
		json_t *th = json_object_get(trig, "threshold"),
		       *avg = json_object_get(trig, "avg");
		struct report_series s = {
		    .v = vals,
		    .n = n,
		    .threshold = json_is_number(th) ? json_number_value(th) : NAN,
		    .avg = json_is_number(avg) ? json_number_value(avg) : NAN,
		    .metric = mid,
		    .first_time = str(json_array_get(hist, 0), "t"),
		    .last_time = str(json_array_get(hist, n - 1), "t"),
		};
		fputs("<h3>", o);
		esc(pg, str(trig, "metric"));
		fputs(" before the firing</h3>\n", o);
		report_chart_svg(o, &s);
		free(vals);
	}
	fputs("</section>\n", o);
}

static void findings(struct page *pg)
{
	FILE *o = pg->out;
	bool any = false;
	fputs("<section id=\"findings\"><h2>Findings</h2>\n", o);
	json_t *errs = json_object_get(pg->m, "errors");
	if (json_object_size(errs) > 0) {
		const char *k;
		json_t *v;
		fputs("<h3 class=\"err\">Capture errors</h3>\n<table class=\"kv\">\n", o);
		json_object_foreach(errs, k, v)
		{
			fputs("<tr><td>", o);
			esc(pg, k);
			fputs("</td><td class=\"err\">", o);
			esc(pg, json_is_string(v) ? json_string_value(v) : "?");
			fputs("</td></tr>\n", o);
		}
		fputs("</table>\n", o);
		any = true;
	}
	any |= summary_pre(pg, "heap.diff.txt", "Heap growth since the baseline, by function",
			   heap_top, 15);
	any |= summary_pre(pg, "cpu.pb.gz", "Busiest functions", cpusummary_print, 15);
	any |= summary_pre(pg, "cpu.before.pb.gz", "Busiest functions before the firing",
			   cpusummary_print, 10);
	any |= summary_pre(pg, "goroutines.txt", "Largest goroutine groups", gosummary_print, 10);
	any |= summary_pre(pg, "stacks.txt", "Largest thread groups", stacksummary_print, 10);
	any |= summary_pre(pg, "locks.txt", "Lock waits", head_lines, TEXT_MAX_LINES);
	any |= summary_pre(pg, "fds.txt", "Open files", head_lines, 30);
	if (!any)
		fputs("<p class=\"muted\">This bundle holds nothing the report summarises.</p>\n",
		      o);
	fputs("</section>\n", o);
}

/* The JSON goes inside a <script> element: "<" is escaped, so no "</script>" can end it early. */
static void embed_json(FILE *o, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '<')
			fputs("\\u003c", o);
		else
			fputc(s[i], o);
}

static void graph(struct page *pg, const char *title, const char *file, const char *base_file)
{
	char path[PATH_MAX], err[256];
	struct pprof_profile *p = NULL, *b = NULL;
	FILE *o = pg->out;
	int rc;

	fprintf(o, "<div class=\"fg\"><h3>%s <span class=\"muted\">(", title);
	esc(pg, base_file ? base_file : "");
	fputs(base_file ? " &rarr; " : "", o);
	esc(pg, file);
	fputs(")</span></h3>\n", o);
	snprintf(path, sizeof(path), "%s/%s", pg->dir, file);
	rc = pprof_decode_file(path, 0, &p, err, sizeof(err));
	if (rc == 0 && base_file) {
		snprintf(path, sizeof(path), "%s/%s", pg->dir, base_file);
		rc = pprof_decode_file(path, 0, &b, err, sizeof(err));
	}
	if (rc < 0) {
		fputs("<p class=\"err\">cannot read the profile: ", o);
		esc(pg, err);
		fputs("</p></div>\n", o);
		goto out;
	}
	flame *f = flame_from_profile(p, NULL);
	if (b && flame_add_base(f, b) < 0) {
		fputs("<p class=\"err\">the baseline has no samples of the same type</p></div>\n",
		      o);
		flame_free(f);
		goto out;
	}
	size_t jlen = 0;
	char *json = flame_to_json(f, FLAME_MIN_SHARE, FLAME_MAX_NODES, &jlen);
	fputs("<div class=\"fg-bar\"><input class=\"fg-search\" type=\"search\" "
	      "placeholder=\"search functions\" aria-label=\"search functions\">"
	      "<button class=\"fg-reset\" type=\"button\">reset zoom</button>"
	      "<span class=\"fg-found\"></span><span class=\"fg-status\">",
	      o);
	if (b)
		fputs("width: now; red: grew since the baseline, blue: shrank. ", o);
	fputs("</span></div>\n<div class=\"fg-graph\"></div>\n", o);
	fprintf(o, "<script type=\"application/json\" class=\"fg-data\">");
	embed_json(o, json, jlen);
	fputs("</script></div>\n", o);
	free(json);
	flame_free(f);
	pg->ngraphs++;
out:
	pprof_free(p);
	pprof_free(b);
}

/* Known profiles first, in the order an investigation reads them, then any other. */
static const struct {
	const char *file, *title;
} known[] = {
    {"cpu.pb.gz", "CPU"},
    {"cpu.before.pb.gz", "CPU before the firing"},
    {"malloc.pb.gz", "Live allocations by code (malloc tracking)"},
    {"faults.pb.gz", "Page faults by code (memory first touched)"},
    {"heap.pb.gz", "Heap in use"},
    {"heap.base.pb.gz", "Heap in use at the baseline"},
    {"goroutines.pb.gz", "Goroutines"},
    {"stacks.pb.gz", "Threads"},
};

static bool is_known(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(known); i++)
		if (!strcmp(known[i].file, name))
			return true;
	return false;
}

static void graphs(struct page *pg)
{
	FILE *o = pg->out;
	fputs("<section id=\"flamegraphs\"><h2>Flame graphs</h2>\n"
	      "<p class=\"muted\">Callers above callees; width is the share of the samples. "
	      "Click a frame to zoom, search to highlight.</p>\n",
	      o);
	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		if (!have(pg, known[i].file))
			continue;
		graph(pg, known[i].title, known[i].file, NULL);
		if (!strcmp(known[i].file, "heap.pb.gz") && have(pg, "heap.base.pb.gz"))
			graph(pg, "Heap growth since the baseline", "heap.pb.gz",
			      "heap.base.pb.gz");
	}
	size_t k;
	json_t *f;
	json_array_foreach(json_object_get(pg->m, "files"), k, f)
	{
		const char *name = str(f, "name");
		size_t n = strlen(name);
		if (is_known(name) || !bundle_name_ok(name) || n < 7 ||
		    strcmp(name + n - 6, ".pb.gz") || !have(pg, name))
			continue;
		graph(pg, str(f, "kind")[0] ? str(f, "kind") : "Profile", name, NULL);
	}
	if (pg->ngraphs == 0)
		fputs("<p class=\"muted\">No profile in this bundle.</p>\n", o);
	fputs("</section>\n", o);
}

static void files(struct page *pg)
{
	FILE *o = pg->out;
	size_t i;
	json_t *f, *v;
	const char *k;
	fputs("<section id=\"files\"><h2>Files</h2>\n<table class=\"files\"><tr><th>name</th>"
	      "<th>kind</th><th>bytes</th><th>format</th><th>sha256</th></tr>\n",
	      o);
	json_array_foreach(json_object_get(pg->m, "files"), i, f)
	{
		fputs("<tr><td>", o);
		esc(pg, str(f, "name"));
		fputs("</td><td>", o);
		esc(pg, str(f, "kind"));
		fprintf(o, "</td><td class=\"num\">%lld</td><td>",
			json_integer_value(json_object_get(f, "bytes")));
		esc(pg, str(f, "format"));
		fputs("</td><td class=\"muted\">", o);
		esc(pg, str(f, "sha256"));
		fputs("</td></tr>\n", o);
	}
	fputs("</table>\n", o);
	if (json_object_size(json_object_get(pg->m, "notes")) > 0) {
		fputs("<h3>Notes</h3>\n<table class=\"kv\">\n", o);
		json_object_foreach(json_object_get(pg->m, "notes"), k, v)
		{
			fputs("<tr><td>", o);
			esc(pg, k);
			fputs("</td><td>", o);
			esc(pg, json_is_string(v) ? json_string_value(v) : "");
			fputs("</td></tr>\n", o);
		}
		fputs("</table>\n", o);
	}
	fputs("</section>\n", o);
}

static void make_nonce(char out[33])
{
	unsigned char r[16] = {0};
	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		uint64_t t = (uint64_t)util_mono_ns() ^ (uint64_t)getpid() << 32;
		memcpy(r, &t, sizeof(t));
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

int report_html_write(const char *dir, FILE *out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_error_t jerr;
	struct page pg = {.out = out, .dir = dir};

	if (!util_snprintf(path, sizeof(path), "%s/manifest.json", dir))
		return util_err(err, errlen, -ENAMETOOLONG, "%s: path too long", dir);
	pg.m = json_load_file(path, 0, &jerr);
	if (!pg.m) {
		if (access(path, R_OK) != 0)
			return util_err(err, errlen, -errno, "%s: %s (is %s a bundle directory?)",
					path, strerror(errno), dir);
		return util_err(err, errlen, -EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column,
				jerr.text);
	}
	make_nonce(pg.nonce);
	/* default-src 'none': the page can load nothing, whatever a bundle holds */
	fprintf(out,
		"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"style-src 'nonce-%s'; script-src 'nonce-%s'; img-src data:\">\n"
		"<meta name=\"viewport\" content=\"width=device-width\">\n<title>hound report ",
		pg.nonce, pg.nonce);
	esc(&pg, str(pg.m, "id"));
	fprintf(out, "</title>\n<style nonce=\"%s\">\n%s</style></head><body>\n", pg.nonce,
		report_asset_css);
	fputs("<header><h1>hound report: ", out);
	esc(&pg, str(pg.m, "target"));
	fputs(" / ", out);
	esc(&pg, str(pg.m, "rule"));
	fputs("</h1><p class=\"muted\">bundle ", out);
	esc(&pg, str(pg.m, "id"));
	fputs(", hound ", out);
	esc(&pg, str(pg.m, "hound_version"));
	fputs("</p></header>\n", out);
	why(&pg);
	findings(&pg);
	graphs(&pg);
	files(&pg);
	fprintf(out, "<script nonce=\"%s\">\n%s</script>\n</body></html>\n", pg.nonce,
		report_asset_js);
	json_decref(pg.m);
	if (fflush(out) != 0 || ferror(out))
		return util_err(err, errlen, -EIO, "cannot write the page: %s", strerror(errno));
	return 0;
}
