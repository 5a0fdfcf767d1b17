/* Unit tests for bundle: layout, ID, manifest fields, errors, atomic publish. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "capture/capture.h"
#include "lib/util.h"
#include "tap.h"

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

int main(void)
{
	char root[] = "/tmp/hound-bundle-XXXXXX";
	ok(mkdtemp(root) != NULL, "temp root");
	char parent[256];
	snprintf(parent, sizeof(parent), "%s/bundles/api", root);

	/* 2026-01-02T03:04:05Z */
	int64_t t = 1767323045000LL;
	bundle *b = NULL;
	is_int(bundle_create(parent, 4242, "rss-spike", t, &b), 0, "bundle created");
	is_str(bundle_id(b), "20260102T030405Z-4242-rss-spike", "ID is time-pid-rule");
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s/20260102T030405Z-4242-rss-spike.tmp", parent);
	is_str(bundle_dir(b), tmp, "files go to ID.tmp until finished");

	bundle *b2 = NULL;
	is_int(bundle_create(parent, 4242, "rss-spike", t, &b2), 0, "second bundle same second");
	is_str(bundle_id(b2), "20260102T030405Z-4242-rss-spike-2", "collision gets a suffix");
	bundle_abort(b2);
	snprintf(tmp, sizeof(tmp), "%s/20260102T030405Z-4242-rss-spike-2.tmp", parent);
	ok(access(tmp, F_OK) != 0, "abort removes the tmp dir");

	write_text(bundle_dir(b), "smaps.txt", "abc");
	is_int(bundle_add_file(b, "smaps.txt", "heap", "text"), 0, "file registered");
	is_int(bundle_add_file(b, "missing.txt", "heap", "text"), -ENOENT, "missing file refused");
	bundle_add_error(b, "stacks", "ptrace(PTRACE_SEIZE, %d): %s", 4242, "Operation not permitted");
	bundle_add_error(b, "stacks", "second");
	bundle_add_note(b, "cpu.method", "perf");

	struct history_point hist[3] = {{t - 2000, 1.0}, {t - 1000, 2.0}, {t, 30.5}};
	struct label labels[1] = {{"cluster", "dev"}};
	struct bundle_trigger trig = {
		.kind = TRIGGER_RULE, .rule = "rss-spike", .metric = M_RSS, .value = 30.5, .avg = 11.2,
		.threshold = 14.0, .condition = "diff", .reason = "rss 30B >= 1.25 x avg 11B",
		.history = hist, .nhistory = 3,
	};
	struct bundle_process proc = {.pid = 4242, .start_ticks = 99, .comm = "api", .cmdline = "api -x",
				      .exe = "/usr/bin/api", .cgroup = "0::/"};
	char final[PATH_MAX];
	is_int(bundle_finish(b, "api", &trig, &proc, labels, 1, final), 0, "bundle finished");
	char want[512];
	snprintf(want, sizeof(want), "%s/20260102T030405Z-4242-rss-spike", parent);
	is_str(final, want, "renamed to ID");

	char mpath[PATH_MAX + 32];
	snprintf(mpath, sizeof(mpath), "%s/manifest.json", final);
	json_error_t err;
	json_t *m = json_load_file(mpath, 0, &err);
	ok(m != NULL, "manifest is valid JSON");
	is_str(json_string_value(json_object_get(m, "id")), "20260102T030405Z-4242-rss-spike", "manifest id");
	is_str(json_string_value(json_object_get(m, "target")), "api", "manifest target");
	is_str(json_string_value(json_object_get(m, "rule")), "rss-spike", "manifest rule");
	json_t *tr = json_object_get(m, "trigger");
	is_str(json_string_value(json_object_get(tr, "kind")), "rule", "trigger kind");
	is_str(json_string_value(json_object_get(tr, "metric")), "rss", "trigger metric");
	is_double(json_number_value(json_object_get(tr, "value")), 30.5, 1e-9, "trigger value");
	is_double(json_number_value(json_object_get(tr, "threshold")), 14.0, 1e-9, "trigger threshold");
	is_int(json_integer_value(json_object_get(json_object_get(m, "process"), "pid")), 4242, "process pid");
	is_int(json_array_size(json_object_get(m, "history")), 3, "history samples");
	json_t *f0 = json_array_get(json_object_get(m, "files"), 0);
	is_str(json_string_value(json_object_get(f0, "sha256")),
	       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "file sha256");
	is_int(json_integer_value(json_object_get(f0, "bytes")), 3, "file bytes");
	is_str(json_string_value(json_object_get(json_object_get(m, "errors"), "stacks")),
	       "ptrace(PTRACE_SEIZE, 4242): Operation not permitted; second", "errors keyed by kind");
	is_str(json_string_value(json_object_get(json_object_get(m, "labels"), "cluster")), "dev", "labels");
	ok(json_object_get(m, "started_at") && json_object_get(m, "finished_at") &&
		   json_object_get(m, "hound_version") && json_object_get(m, "host"),
	   "times, version and host present");
	json_decref(m);

	/* capture_job with a native heap item on ourselves writes a complete bundle. */
	struct capture_job *job = capture_job_new("self", parent);
	is_int(capture_job_read_process(job, getpid()), 0, "read own process");
	ok(job->proc.comm && strstr(job->proc.comm, "test_bundle"), "comm read");
	ok(job->proc.start_ticks > 0, "start ticks read");
	struct capture_item it = {.kind = K_GOROUTINES};
	job->items.items = xcalloc(1, sizeof(it));
	job->items.items[0] = it;
	job->items.n = 1;
	is_int(capture_job_run(job, NULL), 0, "job with an inapplicable kind still writes a bundle");
	ok(job->nerrors == 1, "the inapplicable kind is an error");
	capture_job_free(job);

	util_rm_rf(root);
	return done_testing();
}
