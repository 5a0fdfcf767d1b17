/* test_spool: the spool as a queue: listing, upload state, eviction, expiry; and S3 key forms. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "bundle/s3.h"
#include "bundle/spool.h"
#include "lib/util.h"
#include "tap.h"

static char root[256];

/* A bundle as bundle_finish leaves it: DIR/bundles/TARGET/ID with files and a manifest. */
static void make_bundle(const char *target, const char *id, size_t bytes, bool tmp)
{
	char dir[512], path[600];
	snprintf(dir, sizeof(dir), "%s/bundles/%s/%s%s", root, target, id, tmp ? ".tmp" : "");
	util_mkdir_p(dir, 0755);
	char *buf = xcalloc(1, bytes + 1);
	snprintf(path, sizeof(path), "%s/heap.pb.gz", dir);
	util_write_file_atomic(path, buf, bytes);
	snprintf(path, sizeof(path), "%s/smaps.txt", dir);
	util_write_file_atomic(path, "x", 1);
	if (!tmp) {
		snprintf(path, sizeof(path), "%s/manifest.json", dir);
		util_write_file_atomic(path, "{}", 2);
	}
	free(buf);
}

static char *bdir(const char *target, const char *id)
{
	static char dir[512];
	snprintf(dir, sizeof(dir), "%s/bundles/%s/%s", root, target, id);
	return dir;
}

static void mark_all(const char *dir)
{
	struct spool_state st;
	spool_state_load(dir, &st);
	spool_state_mark(dir, &st, "heap.pb.gz", false);
	spool_state_mark(dir, &st, "smaps.txt", false);
	spool_state_mark(dir, &st, "manifest.json", true);
	spool_state_fini(&st);
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static void age_state(const char *dir, int64_t ago_ms)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/" SPOOL_STATE_FILE, dir);
	int64_t t = util_wall_ms() - ago_ms;
	struct timeval tv[2] = { { t / 1000, (t % 1000) * 1000 }, { t / 1000, (t % 1000) * 1000 } };
	utimes(p, tv);
}

static void test_s3_forms(void)
{
	char *k = s3_encode_key("pfx/a b+c/ü~x_y-z.json");
	is_str(k, "pfx/a%20b%2Bc/%C3%BC~x_y-z.json", "keys: RFC 3986, '/' kept, UTF-8 bytes encoded");
	free(k);
	k = s3_encode_key("a=b&c?d#e%f");
	is_str(k, "a%3Db%26c%3Fd%23e%25f", "reserved characters encoded");
	free(k);

	struct s3_conf c = { .endpoint = "https://s3.example.com:9000/base/", .bucket = "bkt",
			     .region = "eu-west-1", .path_style = true, .access_key_id = "A",
			     .secret_access_key = "S" };
	s3_client *s;
	is_int(s3_client_new(&c, &s), 0, "client for a custom endpoint");
	char *u = s3_object_url(s, "x y/z", NULL);
	is_str(u, "https://s3.example.com:9000/base/bkt/x%20y/z", "path-style URL");
	free(u);
	s3_client_free(s);
	c.path_style = false;
	s3_client_new(&c, &s);
	u = s3_object_url(s, "k", "partNumber=1&uploadId=a");
	is_str(u, "https://bkt.s3.example.com:9000/base/k?partNumber=1&uploadId=a",
	       "virtual-hosted URL with query");
	free(u);
	s3_client_free(s);
	c.endpoint = NULL;
	s3_client_new(&c, &s);
	u = s3_object_url(s, "k", NULL);
	is_str(u, "https://bkt.s3.eu-west-1.amazonaws.com/k", "default endpoint from the region");
	free(u);
	s3_client_free(s);
	c.endpoint = "ftp://x";
	is_int(s3_client_new(&c, &s), -EINVAL, "non-HTTP endpoint refused");

	is_str(s3_content_type("manifest.json"), "application/json", "json type");
	is_str(s3_content_type("heap.pb.gz"), "application/gzip", "gzip type");
	is_str(s3_content_type("stacks.txt"), "text/plain; charset=utf-8", "text type");
	is_str(s3_content_type("trace.out"), "application/octet-stream", "default type");
}

int main(void)
{
	snprintf(root, sizeof(root), "%s/hound-spool-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root))
		return 1;
	test_s3_forms();

	is_int(spool_usage("/nonexistent/hound"), 0, "usage of a missing spool is 0");
	struct spool_entry *e;
	size_t n;
	is_int(spool_list(root, &e, &n), 0, "listing an empty spool");
	is_int(n, 0, "nothing in it");
	spool_list_free(e, n);

	make_bundle("api", "20260102T000000Z-1-r", 1000, false);
	make_bundle("api", "20260101T000000Z-1-r", 1000, false);
	make_bundle("db", "20260101T120000Z-7-api", 1000, false);
	make_bundle("api", "20260103T000000Z-1-r", 1000, true); /* in progress */
	is_int(spool_list(root, &e, &n), 0, "listing");
	is_int(n, 3, "three complete bundles, the .tmp one ignored");
	if (n == 3) {
		is_str(e[0].id, "20260101T000000Z-1-r", "oldest first");
		is_str(e[1].target, "db", "ordered by time across targets");
		is_int(e[2].state, SPOOL_PENDING, "fresh bundle is pending");
	}
	spool_list_free(e, n);

	char **names;
	is_int(spool_bundle_files(bdir("api", "20260101T000000Z-1-r"), &names, &n), 0, "files");
	is_int(n, 3, "three files");
	if (n == 3) {
		is_str(names[0], "heap.pb.gz", "sorted");
		is_str(names[2], "manifest.json", "manifest.json last");
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);

	/* state survives a reload: what a restarted agent sees */
	const char *d1 = bdir("api", "20260101T000000Z-1-r");
	struct spool_state st;
	spool_state_load(d1, &st);
	is_int(spool_state_mark(d1, &st, "heap.pb.gz", false), 0, "mark one file");
	spool_state_fini(&st);
	is_int(spool_bundle_state(d1), SPOOL_PARTIAL, "partially uploaded");
	spool_state_load(d1, &st);
	ok(spool_state_has(&st, "heap.pb.gz") && !spool_state_has(&st, "smaps.txt"),
	   "reloaded state lists exactly the uploaded file");
	ok(!st.complete, "not complete");
	spool_state_fini(&st);
	is_int(spool_bundle_files(d1, &names, &n), 0, "files again");
	is_int(n, 3, "the .upload state file is not a bundle file");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	mark_all(d1);
	is_int(spool_bundle_state(d1), SPOOL_UPLOADED, "uploaded after the manifest");

	/* max_disk: uploaded bundles go first, pending ones never */
	int64_t used = spool_usage(root);
	ok(used > 3000, "usage counts every bundle (%lld)", (long long)used);
	int64_t avail = -2;
	is_int(spool_admit(root, (uint64_t)used + 1, true, &avail), 0, "under quota: admitted");
	ok(avail > 0, "the space available on the spool's filesystem is reported");
	ok(exists(d1), "nothing evicted under quota");
	is_int(spool_admit(root, (uint64_t)used - 500, true, NULL), 0, "evicting the uploaded bundle frees enough");
	ok(!exists(d1), "uploaded bundle evicted");
	ok(exists(bdir("db", "20260101T120000Z-7-api")), "pending bundle kept");
	is_int(spool_admit(root, 1000, true, NULL), -EDQUOT, "still over with only pending bundles: -EDQUOT");
	ok(exists(bdir("api", "20260102T000000Z-1-r")), "pending bundles never evicted");
	is_int(spool_admit(root, 0, true, NULL), 0, "max_disk 0: no quota");
	/* the free space a capture needs: 1% of the filesystem, within bounds */
	is_int(spool_min_free(16ull << 20), SPOOL_MIN_FREE_LOW, "a small filesystem: the floor");
	is_int(spool_min_free(1ull << 30), (1ull << 30) / 100, "1 GiB: 1%%");
	is_int(spool_min_free(1ull << 40), SPOOL_MIN_FREE_HIGH, "1 TiB: the ceiling");

	/* keep_local: only uploaded bundles, counted from the upload */
	const char *d2 = bdir("api", "20260102T000000Z-1-r");
	mark_all(d2);
	spool_expire(root, 3600 * 1000);
	ok(exists(d2), "uploaded a moment ago: kept for keep_local");
	age_state(d2, 2 * 3600 * 1000);
	spool_expire(root, 3600 * 1000);
	ok(!exists(d2), "uploaded two hours ago: deleted after keep_local 1h");
	ok(exists(bdir("db", "20260101T120000Z-7-api")), "pending bundle survives expiry");

	util_rm_rf(root);
	return done_testing();
}
