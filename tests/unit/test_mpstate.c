/* test_mpstate: the multipart upload state file: round trip, torn appends, bad files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/mpstate.h"
#include "lib/util.h"
#include "tap.h"

static int parse(const char *text, struct mp_state *st)
{
	return mpstate_parse(text, strlen(text), st);
}

static void test_parse(void)
{
	struct mp_state st;
	const char *ok_text = "hound-multipart 1\nupload_id abc/+=def\nsize 12582913\n"
			      "part_size 5242880\nmtime_ns 1700000000123456789\n"
			      "etag 1 \"e1\"\netag 3 \"e3\"\n";
	is_int(parse(ok_text, &st), 0, "a state file parses");
	is_str(st.upload_id, "abc/+=def", "upload id, as the store wrote it");
	is_int((int)st.nparts, 3, "three parts (12 MiB + 1 in 5 MiB parts)");
	ok(st.mtime_ns == 1700000000123456789LL, "mtime_ns");
	is_str(st.etags[0], "\"e1\"", "part 1 stored");
	ok(st.etags[1] == NULL, "part 2 missing");
	is_str(st.etags[2], "\"e3\"", "part 3 stored (parts may finish in any order)");
	mpstate_fini(&st);

	char torn[512];
	snprintf(torn, sizeof(torn), "%setag 2 \"e", ok_text);
	is_int(parse(torn, &st), 0, "a torn last line (killed mid-append) is ignored");
	ok(st.etags[1] == NULL, "and its part counts as missing");
	mpstate_fini(&st);

	is_int(parse("", &st), -EINVAL, "empty file");
	is_int(parse("hound-multipart 2\nupload_id x\nsize 1\npart_size 1\n", &st), -EINVAL,
	       "unknown version");
	is_int(parse("hound-multipart 1\nsize 10\npart_size 5\n", &st), -EINVAL, "no upload id");
	is_int(parse("hound-multipart 1\nupload_id x\nsize 10\npart_size 5\netag 3 \"e\"\n", &st),
	       -EINVAL, "a part beyond the file");
	is_int(parse("hound-multipart 1\nupload_id x\netag 1 \"e\"\nsize 10\npart_size 5\n", &st),
	       -EINVAL, "a part before the file's size is known");
	is_int(parse("hound-multipart 1\nupload_id x\nsize 10\npart_size 5\nbogus 1\n", &st), -EINVAL,
	       "an unknown line");
	is_int(parse("hound-multipart 1\nupload_id x\nsize 100000000000\npart_size 1\n", &st),
	       -EINVAL, "more parts than S3 allows");
}

static void test_files(void)
{
	char dir[] = "/tmp/test-mpstate.XXXXXX", path[256];
	struct mp_state st = {0}, back;
	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/.multipart.big.bin", dir);
	is_int(mpstate_load(path, &back), -ENOENT, "no state yet: -ENOENT");
	st.upload_id = xstrdup("id-1");
	st.size = 11;
	st.part_size = 5;
	st.mtime_ns = 42;
	is_int(mpstate_begin(path, &st), 0, "begin writes the state");
	is_int(mpstate_add_part(path, 2, "\"two\""), 0, "part 2 recorded");
	is_int(mpstate_add_part(path, 1, "\"one\""), 0, "part 1 recorded");
	is_int(mpstate_load(path, &back), 0, "and read back");
	is_str(back.upload_id, "id-1", "same upload id");
	is_int((int)back.nparts, 3, "three parts");
	is_str(back.etags[0], "\"one\"", "part 1");
	is_str(back.etags[1], "\"two\"", "part 2");
	ok(back.etags[2] == NULL, "part 3 still to send");
	mpstate_fini(&back);
	is_int(mpstate_begin(path, &st), 0, "begin again replaces the state");
	is_int(mpstate_load(path, &back), 0, "read back");
	ok(back.etags[0] == NULL && back.etags[1] == NULL, "no parts after a fresh begin");
	mpstate_fini(&back);
	mpstate_fini(&st);
	snprintf(path, sizeof(path), "%s/.multipart.big.bin.tmp", dir);
	ok(access(path, F_OK) != 0, "no temporary file left");
	snprintf(path, sizeof(path), "%s/.multipart.big.bin", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_parse();
	test_files();
	return done_testing();
}
