/* test_md5: MD5 against RFC 1321's test suite, streaming in odd pieces, and from a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/md5.h"
#include "tap.h"

static void hex_of(const char *s, size_t piece, char hex[33])
{
	struct md5_ctx c;
	uint8_t dg[16];
	size_t n = strlen(s);
	md5_init(&c);
	for (size_t off = 0; off < n; off += piece)
		md5_update(&c, s + off, n - off < piece ? n - off : piece);
	md5_final(&c, dg);
	md5_hex(dg, hex);
}

int main(void)
{
	static const struct {
		const char *in, *want;
	} v[] = { /* RFC 1321, appendix A.5 */
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	char hex[33];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hex_of(v[i].in, 1000, hex);
		ok(strcmp(hex, v[i].want) == 0, "MD5(\"%.20s\") in one piece", v[i].in);
		hex_of(v[i].in, 7, hex);
		ok(strcmp(hex, v[i].want) == 0, "MD5(\"%.20s\") in pieces of 7", v[i].in);
	}

	char path[] = "/tmp/test-md5.XXXXXX";
	int fd = mkstemp(path);
	ok(fd >= 0, "temp file");
	/* 200000 bytes: several of md5_file's reads */
	char *big = malloc(200001);
	for (int i = 0; i < 200000; i++)
		big[i] = (char)('a' + i % 26);
	big[200000] = '\0';
	ok(write(fd, big, 200000) == 200000, "written");
	char want[33], got[33];
	hex_of(big, 4096, want);
	ok(md5_file(fd, got) == 0 && strcmp(got, want) == 0, "md5_file agrees with md5_update");
	free(big);
	close(fd);
	unlink(path);
	return done_testing();
}
