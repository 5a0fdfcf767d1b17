/* Unit tests for util, json, sha256, metric and log. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/log.h"
#include "lib/metric.h"
#include "lib/sha256.h"
#include "lib/util.h"
#include "tap.h"

static void hex_of(const char *s, size_t n, char hex[65])
{
	struct sha256_ctx c;
	uint8_t dg[32];
	sha256_init(&c);
	sha256_update(&c, s, n);
	sha256_final(&c, dg);
	sha256_hex(dg, hex);
}

static void test_sha256(void)
{
	char hex[65];
	hex_of("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 empty");
	hex_of("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 abc");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hex_of(two, strlen(two), hex);
	is_str(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "sha256 two blocks");

	/* Byte-by-byte updates equal one update; a file hash equals the buffer hash. */
	char big[1000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	struct sha256_ctx c;
	uint8_t dg[32];
	char hex2[65], hex3[65];
	sha256_init(&c);
	for (size_t i = 0; i < sizeof(big); i++)
		sha256_update(&c, big + i, 1);
	sha256_final(&c, dg);
	sha256_hex(dg, hex2);
	hex_of(big, sizeof(big), hex);
	is_str(hex2, hex, "sha256 streaming equals one-shot");
	char path[] = "/tmp/hound-core-XXXXXX";
	int fd = mkstemp(path);
	ok(fd >= 0 && write(fd, big, sizeof(big)) == (ssize_t)sizeof(big), "temp file written");
	uint64_t bytes = 0;
	is_int(sha256_file(fd, 0, UINT64_MAX, hex3, &bytes), 0, "sha256_file ok");
	is_str(hex3, hex, "sha256_file equals buffer hash");
	is_int(bytes, sizeof(big), "sha256_file counts bytes");
	close(fd);
	unlink(path);
}

/* The NIST FIPS 180-4 examples, whichever backend sha256_init picked. */
static void nist_vectors(const char *backend)
{
	int nv = 0;
	char hex[65];
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hex_of("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	       "sha256 NIST vector %d (%s)", ++nv, backend);
	hex_of(two, strlen(two), hex);
	is_str(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	       "sha256 NIST vector %d (%s)", ++nv, backend);
	hex_of("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "sha256 NIST vector %d (%s)", ++nv, backend);
}

/*
 * Bulk hashing: a file of a million 'a' (NIST's long message) is big enough
 * for sha256_file to hash with libcrypto; the built-in rounds hash it first
 * (libcrypto is not loaded yet), so both backends meet the same vector.
 */
static void test_sha256_bulk(void)
{
	static const char million_a[] =
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	size_t n = 1000000, big_n = 3u << 20;
	char *a = xmalloc(big_n), hex[65], hex_file[65], hex_big[65];
	memset(a, 'a', n);

	is_str(sha256_backend(), "built-in", "small inputs do not load libcrypto");
	nist_vectors("built-in");
	hex_of(a, n, hex);
	is_str(hex, million_a, "sha256 NIST million a (built-in)");
	for (size_t i = 0; i < big_n; i++)
		a[i] = (char)(i * 131 + (i >> 13));
	hex_of(a, big_n, hex_big); /* still built-in: the reference for the bulk file */

	char path[] = "/tmp/hound-core-XXXXXX";
	int fd = mkstemp(path);
	ok(fd >= 0 && util_write_full(fd, a, big_n) == 0, "3 MiB temp file written");
	uint64_t bytes = 0;
	is_int(sha256_file(fd, 0, UINT64_MAX, hex_file, &bytes), 0, "sha256_file of 3 MiB ok");
	is_str(sha256_backend(), "libcrypto", "a region of 1 MiB or more loads libcrypto");
	is_str(hex_file, hex_big, "libcrypto file hash equals the built-in one");
	is_int(bytes, big_n, "sha256_file counts 3 MiB");
	/* A region in the middle, and a region past the end of the file. */
	hex_of(a + 4097, 2u << 20, hex_big);
	is_int(sha256_file(fd, 4097, 2u << 20, hex_file, NULL), 0, "sha256_file of a region ok");
	is_str(hex_file, hex_big, "region hash equals the buffer hash");
	is_int(sha256_file(fd, 1u << 20, 4u << 20, hex_file, NULL), -EIO, "short region is -EIO");

	/* Streaming now goes through libcrypto too, byte by byte as well. */
	nist_vectors("libcrypto");
	memset(a, 'a', n);
	hex_of(a, n, hex);
	is_str(hex, million_a, "sha256 NIST million a (libcrypto)");
	struct sha256_ctx c;
	uint8_t dg[32];
	sha256_init(&c);
	ok(c.evp != NULL, "streaming context uses libcrypto once loaded");
	for (size_t i = 0; i < n; i += 1000)
		sha256_update(&c, a + i, 1000);
	sha256_final(&c, dg);
	sha256_hex(dg, hex);
	is_str(hex, million_a, "sha256 million a in 1000-byte updates (libcrypto)");
	close(fd);
	unlink(path);
	free(a);
}

static void test_json(void)
{
	struct json_writer w;
	json_init(&w, false);
	json_obj_begin(&w);
	json_kv_str(&w, "a", "x\"y\n\x01");
	json_key(&w, "b");
	json_arr_begin(&w);
	json_int(&w, -3);
	json_double(&w, 0.1);
	json_double(&w, 1.0 / 0.0);
	json_bool(&w, true);
	json_arr_end(&w);
	json_kv_str(&w, "bad", "\xff\xc3\xa9");
	json_key(&w, "empty");
	json_obj_begin(&w);
	json_obj_end(&w);
	json_obj_end(&w);
	is_str(w.buf, "{\"a\":\"x\\\"y\\u000a\\u0001\",\"b\":[-3,0.1,null,true],\"bad\":\"\\ufffd\xc3\xa9\",\"empty\":{}}",
	       "json compact output with escapes and invalid UTF-8");
	json_fini(&w);

	json_init(&w, true);
	json_obj_begin(&w);
	json_kv_int(&w, "n", 1);
	json_obj_end(&w);
	is_str(w.buf, "{\n  \"n\": 1\n}", "json pretty output");
	json_fini(&w);
}

static void test_util(void)
{
	is_int(util_edit_distance("interval", "intervl"), 1, "edit distance deletion");
	is_int(util_edit_distance("cooldown", "cooldwn"), 1, "edit distance");
	is_int(util_edit_distance("abc", "xyz"), 3, "edit distance all different");
	char buf[8];
	ok(!util_snprintf(buf, sizeof(buf), "%s", "too long for it"), "snprintf reports truncation");
	ok(util_snprintf(buf, sizeof(buf), "%d", 42) && !strcmp(buf, "42"), "snprintf fits");
	char t[40];
	util_fmt_compact_time(86400000LL * 365 + 3723000, t, sizeof(t));
	is_str(t, "19710101T010203Z", "compact time");
	util_fmt_time(1500, t, sizeof(t));
	is_str(t, "1970-01-01T00:00:01.500Z", "RFC 3339 time");

	char dir[] = "/tmp/hound-core-dir-XXXXXX";
	ok(mkdtemp(dir) != NULL, "mkdtemp");
	char *sub = xasprintf("%s/a/b/c", dir);
	is_int(util_mkdir_p(sub, 0755), 0, "mkdir -p");
	char *f = xasprintf("%s/file", sub);
	is_int(util_write_file_atomic(f, "hello", 5), 0, "atomic write");
	char *got = NULL;
	size_t len = 0;
	is_int(util_read_file(f, &got, &len, 1024), 0, "read back");
	is_str(got, "hello", "content equal");
	is_int(util_read_file(f, &got, &len, 2), -EFBIG, "read cap enforced");
	ok(util_du(dir) >= 5, "du counts the file");
	is_int(util_rm_rf(dir), 0, "rm -rf");
	ok(access(dir, F_OK) != 0, "tree removed");
	free(got);
	free(f);
	free(sub);
}

static void test_metric(void)
{
	char b[32];
	is_int(metric_by_name("rss"), M_RSS, "metric by name");
	is_int(metric_by_name("nope"), -1, "unknown metric");
	metric_format(M_RSS, 268435456.0, b, sizeof(b));
	is_str(b, "256.0MiB", "bytes formatted");
	metric_format(M_CPU, 52.25, b, sizeof(b));
	is_str(b, "52.2%", "percent formatted");
	metric_format(M_GC_PAUSE, 0.0123, b, sizeof(b));
	is_str(b, "12.30ms", "seconds formatted");
	is_int(capture_kind_by_name("goroutines"), K_GOROUTINES, "kind by name");
	ok(!capture_kind_native(K_TRACE), "trace is Go only");
}

static void test_log(void)
{
	int p[2];
	ok(pipe(p) == 0, "pipe");
	int saved = dup(2);
	dup2(p[1], 2);
	log_setup(LOG_FMT_LOGFMT, LOG_INFO);
	log_info("target exited", "target=%s pid=%d why=%s", "api", 12, "gone away");
	log_debug("hidden", NULL);
	log_setup(LOG_FMT_JSON, LOG_DEBUG);
	log_warn("x", "k=%s", "a\"b");
	dup2(saved, 2);
	close(p[1]);
	char buf[1024] = {0};
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	ok(n > 0, "log wrote");
	ok(strstr(buf, " level=info msg=\"target exited\" target=api pid=12 why=\"gone away\"\n") != NULL,
	   "logfmt line quotes values with spaces");
	ok(strstr(buf, "hidden") == NULL, "debug filtered at info");
	ok(strstr(buf, "\"level\":\"warn\",\"msg\":\"x\",\"k\":\"a\\\"b\"}") != NULL, "json line");
	close(p[0]);
}

int main(void)
{
	test_sha256();
	test_sha256_bulk();
	test_json();
	test_util();
	test_metric();
	test_log();
	return done_testing();
}
