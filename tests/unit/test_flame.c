/* test_flame: flame graph trees and folded stacks from pprof profiles, their JSON, the HTML page's
 * escaping. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/pprof.h"
#include "lib/pprof_decode.h"
#include "lib/pprof_fold.h"
#include "report/flame.h"
#include "report/report_html.h"
#include "tap.h"

#define HOSTILE "</script><img src=x onerror=alert(1)>"

/* Adds one sample of value v along names (root first, NULL-terminated). */
static void add(pprof_builder *b, int64_t v, const char *const *names)
{
	struct pprof_frame fr[2100];
	size_t n = 0;
	while (names[n])
		n++;
	for (size_t i = 0; i < n; i++) /* leaf first */
		fr[i] = (struct pprof_frame){.address = 0x1000 + 16 * (uint64_t)(n - 1 - i),
					     .function = names[n - 1 - i]};
	pprof_add_stack(b, fr, n, (int64_t[]){v, v * 10}, 2, NULL, 0);
}

static struct pprof_profile *decode(pprof_builder *b)
{
	uint8_t *raw;
	size_t len;
	struct pprof_profile *p = NULL;
	char err[256];
	pprof_encode(b, &raw, &len);
	if (pprof_decode(raw, len, 0, &p, err, sizeof(err)) < 0)
		printf("# decode: %s\n", err);
	free(raw);
	pprof_builder_free(b);
	return p;
}

static pprof_builder *builder(void)
{
	pprof_builder *b = pprof_builder_new();
	pprof_add_sample_type(b, "samples", "count");
	pprof_add_sample_type(b, "cpu", "nanoseconds");
	return b;
}

/* The JSON's flat node records as (name, value, base, depth) tuples. */
struct rec {
	const char *name;
	long long v, b, depth;
};

static size_t records(json_t *j, struct rec *out, size_t max)
{
	json_t *names = json_object_get(j, "names"), *nodes = json_object_get(j, "nodes");
	size_t st = (size_t)json_integer_value(json_object_get(j, "stride")), n = 0;
	for (size_t i = 0; st && i + st <= json_array_size(nodes) && n < max; i += st, n++) {
		out[n].name = json_string_value(
		    json_array_get(names, (size_t)json_integer_value(json_array_get(nodes, i))));
		out[n].v = json_integer_value(json_array_get(nodes, i + 1));
		out[n].b = st == 4 ? json_integer_value(json_array_get(nodes, i + 2)) : 0;
		out[n].depth = json_integer_value(json_array_get(nodes, i + st - 1));
	}
	return n;
}

static json_t *to_json(const flame *f, unsigned share, size_t max)
{
	size_t len;
	char *s = flame_to_json(f, share, max, &len);
	json_t *j = json_loadb(s, len, 0, NULL);
	free(s);
	return j;
}

static void test_tree(void)
{
	pprof_builder *b = builder();
	add(b, 90, (const char *[]){"main", "a", "hot", NULL});
	add(b, 10, (const char *[]){"main", "b", NULL});
	add(b, 5, (const char *[]){"main", "a", NULL});
	struct pprof_profile *p = decode(b);
	flame *f = flame_from_profile(p, NULL);
	is_int(flame_total(f), 1050, "the value is the last sample type (cpu), as pprof's default");
	ok(!strcmp(flame_type(f), "cpu") && !strcmp(flame_unit(f), "nanoseconds"), "type and unit");
	flame_free(f);

	f = flame_from_profile(p, "samples");
	is_int(flame_total(f), 105, "a named sample type is used");
	json_t *j = to_json(f, 0, 0);
	struct rec r[16];
	size_t n = records(j, r, 16);
	is_int(n, 5, "all, main, a, hot, b");
	ok(n == 5 && !strcmp(r[0].name, "all") && r[0].v == 105 && r[0].depth == 0,
	   "the root holds the total");
	ok(n == 5 && !strcmp(r[1].name, "main") && r[1].v == 105 && r[1].depth == 1,
	   "main holds every sample");
	ok(n == 5 && !strcmp(r[2].name, "a") && r[2].v == 95 && r[2].depth == 2,
	   "a (95) comes before b: widest first");
	ok(n == 5 && !strcmp(r[3].name, "hot") && r[3].v == 90 && r[3].depth == 3,
	   "hot under a, pre-order");
	ok(n == 5 && !strcmp(r[4].name, "b") && r[4].v == 10 && r[4].depth == 2,
	   "b after a's subtree");
	ok(json_is_false(json_object_get(j, "diff")), "not a diff");
	json_decref(j);

	/* 1/20 of 105 is 5: b (10) stays, nothing under 5 */
	j = to_json(f, 20, 0);
	is_int(records(j, r, 16), 5, "a share cut keeps nodes at or above it");
	json_decref(j);
	j = to_json(f, 0, 3);
	n = records(j, r, 16);
	ok(n <= 3 && n >= 1 && !strcmp(r[0].name, "all"),
	   "a node cap keeps at most that many, root first (%zu)", n);
	json_decref(j);
	flame_free(f);
	pprof_free(p);
}

static void test_diff(void)
{
	pprof_builder *b = builder();
	add(b, 90, (const char *[]){"main", "a", "hot", NULL});
	struct pprof_profile *now = decode(b);
	b = builder();
	add(b, 40, (const char *[]){"main", "a", "hot", NULL});
	add(b, 20, (const char *[]){"main", "gone", NULL});
	struct pprof_profile *base = decode(b);
	flame *f = flame_from_profile(now, "samples");
	is_int(flame_add_base(f, base), 0, "the baseline merges");
	json_t *j = to_json(f, 0, 0);
	struct rec r[16];
	size_t n = records(j, r, 16);
	ok(json_is_true(json_object_get(j, "diff")) &&
	       json_integer_value(json_object_get(j, "stride")) == 4,
	   "a diff has four numbers per node");
	is_int(json_integer_value(json_object_get(j, "base_total")), 60, "the baseline's total");
	bool hot = false, gone = false;
	for (size_t i = 0; i < n; i++) {
		hot |= !strcmp(r[i].name, "hot") && r[i].v == 90 && r[i].b == 40;
		gone |= !strcmp(r[i].name, "gone") && r[i].v == 0 && r[i].b == 20;
	}
	ok(hot, "hot: 90 now, 40 before");
	ok(gone, "a function only in the baseline is kept, at zero now");
	json_decref(j);
	flame_free(f);

	pprof_builder *o = pprof_builder_new();
	pprof_add_sample_type(o, "inuse_space", "bytes");
	struct pprof_frame fr = {.address = 1, .function = "x"};
	pprof_add_stack(o, &fr, 1, (int64_t[]){1}, 1, NULL, 0);
	struct pprof_profile *other = decode(o);
	f = flame_from_profile(now, "samples");
	is_int(flame_add_base(f, other), -EINVAL, "a baseline without the sample type is refused");
	flame_free(f);
	pprof_free(other);
	pprof_free(now);
	pprof_free(base);
}

static void test_deep(void)
{
	static const char *names[2001];
	static char buf[2000][16];
	for (int i = 0; i < 2000; i++) {
		snprintf(buf[i], sizeof(buf[i]), "f%d", i);
		names[i] = buf[i];
	}
	pprof_builder *b = builder();
	add(b, 1, names);
	struct pprof_profile *p = decode(b);
	flame *f = flame_from_profile(p, "samples");
	json_t *j = to_json(f, 0, 0);
	struct rec r[2100];
	size_t n = records(j, r, 2100);
	ok(n > 100 && n <= 513 && r[n - 1].depth <= 512,
	   "a 2000-frame stack is cut at 512 frames (%zu nodes)", n);
	json_decref(j);
	flame_free(f);
	pprof_free(p);
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* A bundle whose every string is hostile: the page stays inert. */
static void test_page_escaping(void)
{
	char dir[] = "/tmp/test_flame.XXXXXX", path[256], err[256];
	ok(mkdtemp(dir) != NULL, "temp dir");
	pprof_builder *b = builder();
	add(b, 7, (const char *[]){"main", HOSTILE, NULL});
	snprintf(path, sizeof(path), "%s/cpu.pb.gz", dir);
	ok(pprof_write_file(b, path, err, sizeof(err)) == 0, "profile written");
	pprof_builder_free(b);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	FILE *m = fopen(path, "w");
	fprintf(m,
		"{\"id\":\"x\",\"target\":\"t\",\"rule\":\"r\",\"reason\":\"%s\",\"trigger\":{"
		"\"kind\":\"rule\","
		"\"metric\":\"rss\",\"value\":3,\"labels\":{\"%s\":\"%s\"}},\"process\":{"
		"\"cmdline\":\"%s\"},"
		"\"history\":[{\"t\":\"%s\",\"value\":1},{\"t\":\"b\",\"value\":3}],"
		"\"files\":[{\"name\":\"cpu.pb.gz\",\"kind\":\"%s\"},{\"name\":\"../x.pb.gz\"}],"
		"\"errors\":{\"heap\":\"%s\"},\"notes\":{\"%s\":\"1\"}}",
		HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE);
	fclose(m);
	char *page = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&page, &len);
	int rc = report_html_write(dir, out, err, sizeof(err));
	fclose(out);
	is_int(rc, 0, "the page is written");
	ok(page && !strstr(page, "<img"), "no <img tag anywhere in the page");
	is_int(count(page, "</script>"), 2,
	       "only the page's own </script>: one graph's data, one script");
	ok(count(page, "&lt;/script&gt;&lt;img") >= 6, "the hostile text is shown, escaped");
	ok(strstr(page, "\\u003c/script>\\u003cimg") != NULL,
	   "inside the graph data, < is \\u003c");
	ok(strstr(page, "default-src 'none'") != NULL, "the page may load nothing");
	free(page);

	snprintf(path, sizeof(path), "%s/cpu.pb.gz", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	unlink(path);
	page = NULL;
	out = open_memstream(&page, &len);
	rc = report_html_write(dir, out, err, sizeof(err));
	fclose(out);
	ok(rc == -ENOENT && strstr(err, "manifest.json"), "no manifest: -ENOENT naming it (%s)",
	   err);
	free(page);
	rmdir(dir);
}

static void test_fold(void)
{
	pprof_builder *b = builder();
	add(b, 3, (const char *[]){"main", "a", "hot", NULL});
	add(b, 2, (const char *[]){"main", "b;c", NULL});
	add(b, 4, (const char *[]){"main", "a", "hot", NULL});
	add(b, 0, (const char *[]){"main", "zero", NULL});
	struct pprof_profile *p = decode(b);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	is_int(pprof_fold(p, NULL, m), 0, "folded");
	fclose(m);
	ok(buf && !strcmp(buf, "main;a;hot 7\nmain;b:c 2\n"),
	   "root first, merged, sorted, ';' in a name made ':', zero samples left out");
	free(buf);
	buf = NULL;
	m = open_memstream(&buf, &len);
	pprof_fold(p, "cpu", m);
	fclose(m);
	ok(buf && strstr(buf, "main;a;hot 70\n"), "another sample type by name");
	free(buf);
	pprof_free(p);
}

int main(void)
{
	test_fold();
	test_tree();
	test_diff();
	test_deep();
	test_page_escaping();
	done_testing();
}
