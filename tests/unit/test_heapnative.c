/* Unit tests for smaps parsing and the native `heap` capture against a real growing process. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "capture/capture.h"
#include "capture/native/heapfaults.h"
#include "capture/native/heapnative.h"
#include "capture/native/smaps.h"
#include "lib/util.h"
#include "tap.h"

#define FIXTURES TOP_SRCDIR "/tests/fixtures/smaps/"

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	int rc = util_read_file(path, &buf, &n, 256u << 20);
	if (rc < 0) {
		printf("# read %s: %s\n", path, strerror(-rc));
		return NULL;
	}
	if (len)
		*len = n;
	return buf;
}

static int parse_fixture(const char *name, struct smaps_table *t)
{
	char path[PATH_MAX];
	size_t len = 0;
	util_snprintf(path, sizeof(path), FIXTURES "%s", name);
	char *buf = slurp(path, &len);
	int rc = smaps_parse(buf ? buf : "", buf ? len : 0, t);
	free(buf);
	return rc;
}

static const struct smaps_entry *entry(const struct smaps_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].name, name))
			return &t->e[i];
	return NULL;
}

static void test_parse_fixtures(void)
{
	struct smaps_table base, now, tr, ho, empty;
	const struct smaps_entry *e;

	is_int(parse_fixture("base.txt", &base), 0, "base parses");
	is_int(base.mappings, 11, "base: 11 mappings");
	is_int(base.bad_lines, 0, "base: no bad lines");
	is_int(base.rss_kb, 12612, "base: total Rss");
	e = entry(&base, "[heap]");
	ok(e && e->rss_kb == 10000 && e->anon_kb == 10000 && e->size_kb == 10240, "base: [heap]");
	e = entry(&base, "[anon]");
	ok(e && e->rss_kb == 1536 && e->mappings == 2 && e->swap_kb == 64,
	   "base: unnamed mappings fold into [anon]");
	e = entry(&base, "/usr/bin/app");
	ok(e && e->mappings == 3 && e->rss_kb == 32 && e->anon_kb == 4,
	   "base: a binary's 3 mappings");
	ok(entry(&base, "/memfd:cache (deleted)") != NULL, "base: (deleted) kept in the name");

	is_int(parse_fixture("now.txt", &now), 0, "now parses");
	e = entry(&now, "[stack]");
	ok(e && e->mappings == 2 && e->rss_kb == 56, "now: [stack:TID] folds into [stack]");
	ok(entry(&now, "/dev/shm/big file") != NULL, "now: a path with a space");
	is_int(now.rss_kb, 250212, "now: total Rss");

	struct smaps_growth *g;
	size_t n = smaps_diff(&base, &now, &g);
	is_int(n, 5, "5 names grew");
	static const char *order[] = {"[heap]", "[anon]", "/memfd:cache (deleted)",
				      "/dev/shm/big file", "[stack]"};
	for (size_t i = 0; i < n && i < ARRAY_LEN(order); i++)
		is_str(g[i].name, order[i], "growth rank %zu", i + 1);
	ok(n >= 4 && g[0].rss_kb == 120000 && g[0].anon_kb == 120000, "[heap] grew 120000 kB");
	ok(n >= 4 && g[2].rss_kb == 50000 && g[2].anon_kb == 0, "memfd: Rss grew, not Anonymous");
	ok(n >= 4 && g[3].is_new && !g[0].is_new, "new mapping flagged");
	free(g);

	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);
	is_int(smaps_write_diff(f, &base, &now, 2), 0, "write diff");
	fclose(f);
	printf("%s", text);
	char *row = strstr(text, "\n  ");
	ok(row && strstr(row, "+117.2MiB") && strstr(row, "[heap]") < strchr(row + 1, '\n'),
	   "first row: [heap] +117.2MiB");
	ok(strstr(text, "... 3 more\n") != NULL, "rows capped with a count");
	ok(strstr(text, "total: rss +232.0MiB (12.3MiB -> 244.3MiB), anonymous +181.2MiB (11.3MiB "
			"-> 192.5MiB)") != NULL,
	   "total line");
	free(text);

	/* Nothing grew between a snapshot and itself. */
	f = open_memstream(&text, &tlen);
	smaps_write_diff(f, &now, &now, 10);
	fclose(f);
	ok(strstr(text, "(no mapping grew)") && strstr(text, "total: rss 0B"),
	   "self diff: nothing");
	free(text);

	is_int(parse_fixture("truncated.txt", &tr), 0, "truncated file parses");
	e = entry(&tr, "[heap]");
	ok(e && e->size_kb == 140000 && e->rss_kb == 13, "cut-off mapping keeps its fields");
	is_int(tr.mappings, 4, "truncated: 4 mappings");

	is_int(parse_fixture("hostile.txt", &ho), 0, "hostile file parses");
	is_int(ho.bad_lines, 5, "hostile: 5 bad lines counted");
	e = entry(&ho, "[heap]");
	ok(e && e->rss_kb == UINT64_MAX && e->anon_kb == 0, "overflowing number saturates");
	e = entry(&ho, "[anon]");
	ok(e && e->rss_kb == 7 && e->anon_kb == 7, "header without a name is [anon]");
	e = entry(&ho, "[anon:libc_malloc]");
	ok(e && e->anon_kb == 12, "[anon:NAME] kept");
	is_int(ho.rss_kb, UINT64_MAX, "totals saturate, never wrap");
	f = open_memstream(&text, &tlen);
	is_int(smaps_write_diff(f, &base, &ho, 10), 0, "diff against hostile input");
	fclose(f);
	free(text);

	is_int(smaps_parse("", 0, &empty), -EINVAL, "empty input: -EINVAL");
	is_int(empty.n, 0, "empty input: no entries");
	smaps_table_fini(&empty);
	is_int(smaps_parse("no smaps here\n", 14, &empty), -EINVAL, "garbage: -EINVAL");
	smaps_table_fini(&empty);

	smaps_table_fini(&base);
	smaps_table_fini(&now);
	smaps_table_fini(&tr);
	smaps_table_fini(&ho);
}

/* A child that grows its [heap] by 48MiB each time it is told to, until its pipe closes. */
struct child {
	pid_t pid;
	int cmd, ack;
};

static void child_main(int cmd, int ack)
{
	char c;
	/*
	 * sbrk rather than malloc: the program break is [heap] whatever the
	 * allocator (ASan's malloc never uses it).
	 */
	while (read(cmd, &c, 1) == 1) {
		size_t n = 48u << 20;
		char *p = sbrk((intptr_t)n);
		if (p == (void *)-1)
			_exit(3);
		memset(p, 0x5a, n);
		if (write(ack, "k", 1) != 1)
			_exit(4);
	}
	_exit(0);
}

static int child_start(struct child *ch)
{
	int a[2], b[2];
	if (pipe(a) < 0 || pipe(b) < 0)
		return -errno;
	ch->pid = fork();
	if (ch->pid < 0)
		return -errno;
	if (ch->pid == 0) {
		close(a[1]);
		close(b[0]);
		child_main(a[0], b[1]);
	}
	close(a[0]);
	close(b[1]);
	ch->cmd = a[1];
	ch->ack = b[0];
	return 0;
}

static int child_grow(struct child *ch)
{
	char c;
	if (write(ch->cmd, "g", 1) != 1 || read(ch->ack, &c, 1) != 1)
		return -1;
	return 0;
}

static void child_stop(struct child *ch)
{
	close(ch->cmd);
	close(ch->ack);
	waitpid(ch->pid, NULL, 0);
}

/* The fault sampling period: every fault while quiet, rate / budget on average when busy. */
static void test_fault_period(void)
{
	uint64_t rnd = 42, sum = 0, lo = UINT64_MAX, hi = 0;
	const int n = 20000;

	is_int((int)heapfaults_next_period(0, 100, &rnd), 1, "no fault: every fault sampled");
	is_int((int)heapfaults_next_period(50, 100, &rnd), 1, "500 a second: still every fault");
	is_int((int)heapfaults_next_period(1000, 0, &rnd) >= 1, 1, "an empty slice is no division");
	for (int i = 0; i < n; i++) {
		uint64_t p = heapfaults_next_period(800, 100, &rnd); /* 8000/s: mean 16 */
		sum += p;
		lo = p < lo ? p : lo;
		hi = p > hi ? p : hi;
	}
	ok(sum > 15.5 * n && sum < 16.5 * n, "8000 faults a second: one in 16 on average (%.2f)",
	   (double)sum / n);
	ok(lo == 1 && hi == 31, "periods spread over 1..31, not one fixed period (%llu..%llu)",
	   (unsigned long long)lo, (unsigned long long)hi);
	ok(heapfaults_next_period(UINT64_C(1) << 40, 100, &rnd) <= 511, "capped");
}

/* Which frame a fault is charged to, and how the code section reads. */
static void test_fault_format(void)
{
	const char *exe = "/srv/app/leaky";
	struct perf_profile_fn fns[2] = {
	    {.function = "leak_request_context", .file = "leak.c", .module = "/srv/app/leaky",
	     .line = 65, .count = 3520, .value = 14417920},
	    {.function = "reserve_untouched", .module = "/srv/app/leaky", .count = 1, .value = 4096},
	};
	struct heapfaults_result r = {.top = fns, .ntop = 2, .faults = 3521, .touched = 14422016,
				      .bytes = 14422016, .duration_ms = 10000, .threads = 1};
	char *text = NULL, b[32];
	size_t len = 0;
	FILE *f;

	is_int(heapfaults_frame_class("/srv/app/leaky", exe), 3, "the executable is class 3");
	is_int(heapfaults_frame_class("/srv/app/libsvc.so.1", exe), 2, "the program's own library is 2");
	is_int(heapfaults_frame_class("/usr/lib/x86_64-linux-gnu/libc.so.6", exe), 1, "libc is 1");
	is_int(heapfaults_frame_class("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", exe), 1,
	       "the loader is 1");
	is_int(heapfaults_frame_class("/usr/lib/libjemalloc.so.2", exe), 1, "an allocator is 1");
	is_int(heapfaults_frame_class("[vdso]", exe), 0, "[vdso] is 0");
	is_int(heapfaults_frame_class(NULL, exe), 0, "no mapping is 0");
	is_int(heapfaults_frame_class("/srv/app/leaky", ""), 2, "unknown exe: still program code");
	heapfaults_fmt_bytes(14417920, b, sizeof(b));
	is_str(b, "13.8 MiB", "bytes in MiB");
	heapfaults_fmt_bytes(4096, b, sizeof(b));
	is_str(b, "4 KiB", "bytes in KiB");

	f = open_memstream(&text, &len);
	heapfaults_format(f, &r, 10);
	fclose(f);
	char *data = text;
	while (data && *data == '#')
		data = strchr(data, '\n') ? strchr(data, '\n') + 1 : NULL;
	ok(data && strstr(data, "leak_request_context (leak.c:65) [/srv/app/leaky]") &&
	       strchr(data, '\n') > strstr(data, "leak_request_context"),
	   "the first data line names the function, its line and module");
	ok(strstr(text, "13.8 MiB still resident of 13.8 MiB faulted in (3521 faults") != NULL,
	   "the header totals the profile");
	free(text);
	r.ntop = 0;
	text = NULL;
	f = open_memstream(&text, &len);
	heapfaults_format(f, &r, 10);
	fclose(f);
	ok(strstr(text, "# (no page fault") != NULL, "an empty profile says so");
	free(text);
}

static void test_real_process(const char *root)
{
	struct child ch = {0};
	char basedir[PATH_MAX], path[PATH_MAX], final[PATH_MAX];
	char err[512] = "";
	bundle *b;
	struct capture_item item = {.kind = K_HEAP, .duration_ms = 1000};

	if (child_start(&ch) < 0) {
		ok(0, "fork: %s", strerror(errno));
		return;
	}
	util_snprintf(basedir, sizeof(basedir), "%s/baseline/%d", root, (int)ch.pid);
	is_int(heapnative_baseline(ch.pid, basedir), 0, "baseline of a live child");
	util_snprintf(path, sizeof(path), "%s/smaps.base.txt", basedir);
	ok(access(path, R_OK) == 0, "smaps.base.txt written");
	util_snprintf(path, sizeof(path), "%s/smaps.base.txt.tmp", basedir);
	ok(access(path, F_OK) != 0, "no temporary left behind");
	is_int(child_grow(&ch), 0, "child grew its heap by 48MiB");

	is_int(bundle_create(root, ch.pid, "manual", util_wall_ms(), &b), 0, "bundle created");
	struct capture_ctx ctx = {.bundle = b, .pid = ch.pid, .heap_baseline_dir = basedir};
	int rc = heapnative_capture(&ctx, &item, err, sizeof(err));
	is_int(rc, 0, "heap capture: %s", err);

	const char *dir = bundle_dir(b);
	struct smaps_table base, now;
	size_t len;
	util_snprintf(path, sizeof(path), "%s/smaps.base.txt", dir);
	char *t = slurp(path, &len);
	is_int(t ? smaps_parse(t, len, &base) : -1, 0, "bundle smaps.base.txt parses");
	free(t);
	util_snprintf(path, sizeof(path), "%s/smaps.txt", dir);
	t = slurp(path, &len);
	is_int(t ? smaps_parse(t, len, &now) : -1, 0, "bundle smaps.txt parses");
	free(t);
	const struct smaps_entry *hb = entry(&base, "[heap]"), *hn = entry(&now, "[heap]");
	ok(hn && (!hb || hn->rss_kb >= hb->rss_kb + 40 * 1024), "[heap] Rss grew >= 40MiB");
	smaps_table_fini(&base);
	smaps_table_fini(&now);

	util_snprintf(path, sizeof(path), "%s/heap.diff.txt", dir);
	t = slurp(path, NULL);
	ok(t != NULL, "heap.diff.txt written");
	if (t) {
		char *maps = strstr(t, "\n# by mapping");
		char *row = maps ? strstr(maps, "\n  ") : NULL;
		char *eol = row ? strchr(row + 1, '\n') : NULL;
		char *name = row ? strstr(row, "[heap]") : NULL;
		ok(name && eol && name < eol, "top growth row of the mapping section is [heap]");
		ok(strncmp(t, "# hound heap diff (native): by code", 35) == 0 && maps &&
		       strstr(t, "\n# by code: ") && strstr(t, "\n# by code: ") < maps,
		   "code first, then mappings");
		ok(strstr(t, "\ntotal: rss +") != NULL, "total line present");
		printf("# %.*s\n", (int)(eol && row ? eol - row - 1 : 0), row ? row + 1 : "");
	}
	free(t);

	struct bundle_process proc = {.pid = ch.pid, .comm = "test_heapnative"};
	struct bundle_trigger trig = {.kind = TRIGGER_MANUAL, .reason = "test"};
	is_int(bundle_finish(b, "t", &trig, &proc, NULL, 0, final), 0, "bundle finished");
	util_snprintf(path, sizeof(path), "%s/manifest.json", final);
	t = slurp(path, NULL);
	ok(t && strstr(t, "\"smaps.txt\"") && strstr(t, "\"smaps.base.txt\"") &&
	       strstr(t, "\"heap.diff.txt\"") && strstr(t, "\"kind\": \"heap\""),
	   "manifest lists smaps.txt, smaps.base.txt, heap.diff.txt as kind heap");
	free(t);

	/* Without a baseline: smaps.txt only, and a note saying why. */
	is_int(bundle_create(root, ch.pid, "manual", util_wall_ms(), &b), 0, "second bundle");
	ctx.bundle = b;
	ctx.heap_baseline_dir = NULL;
	err[0] = '\0';
	is_int(heapnative_capture(&ctx, &item, err, sizeof(err)), 0, "capture without baseline");
	util_snprintf(path, sizeof(path), "%s/heap.diff.txt", bundle_dir(b));
	t = slurp(path, NULL);
	ok(t && strstr(t, "\n# by code: ") &&
	       strstr(t, "no smaps baseline for this process: growth by mapping unknown"),
	   "without a baseline heap.diff.txt has the code section and says why no mappings");
	free(t);
	is_int(bundle_finish(b, "t", &trig, &proc, NULL, 0, final), 0, "second bundle finished");
	util_snprintf(path, sizeof(path), "%s/manifest.json", final);
	t = slurp(path, NULL);
	ok(t && strstr(t, "no smaps baseline"), "manifest note explains the missing diff");
	free(t);
	child_stop(&ch);

	/* A process that is gone: a clear error naming the file. */
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	is_int(bundle_create(root, gone, "manual", util_wall_ms(), &b), 0, "third bundle");
	ctx.bundle = b;
	ctx.pid = gone;
	err[0] = '\0';
	rc = heapnative_capture(&ctx, &item, err, sizeof(err));
	char want[128];
	snprintf(want, sizeof(want), "open(/proc/%d/smaps): No such file or directory", (int)gone);
	ok(rc == -ENOENT && !strcmp(err, want), "exited process: %s", err);
	bundle_abort(b);
	is_int(heapnative_baseline(gone, basedir), -ENOENT, "baseline of an exited process");
}

int main(void)
{
	char root[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	util_snprintf(root, sizeof(root), "%s/hound-heapnative.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	test_parse_fixtures();
	test_fault_format();
	test_fault_period();
	if (!mkdtemp(root)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return done_testing();
	}
	test_real_process(root);
	if (!tap_failed)
		util_rm_rf(root);
	else
		printf("# kept %s\n", root);
	return done_testing();
}
