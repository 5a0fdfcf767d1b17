/* md5: MD5 (RFC 1321), only to check an object store's ETag against local data. */
#ifndef HOUND_MD5_H
#define HOUND_MD5_H

#include <stddef.h>
#include <stdint.h>

struct md5_ctx {
	uint32_t h[4];
	uint64_t len;
	uint8_t buf[64];
	size_t nbuf;
};

void md5_init(struct md5_ctx *c);
void md5_update(struct md5_ctx *c, const void *data, size_t n);
void md5_final(struct md5_ctx *c, uint8_t out[16]);
/* Lower-case hex of 16 bytes into hex[33]. */
void md5_hex(const uint8_t dg[16], char hex[33]);
/* Hashes a whole file from its start into hex; 0 or -errno. */
int md5_file(int fd, char hex[33]);

#endif
