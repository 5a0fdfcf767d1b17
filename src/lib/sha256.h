/* sha256: SHA-256 (FIPS 180-4), streaming, for bundle manifests and S3 payload hashes. */
#ifndef HOUND_SHA256_H
#define HOUND_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Between sha256_init and sha256_final a context may own an EVP context:
 * always finish what was started. */
struct sha256_ctx {
	void *evp; /* libcrypto's EVP_MD_CTX, or NULL for the built-in rounds */
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t nbuf;
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t n);
void sha256_final(struct sha256_ctx *c, uint8_t out[32]);
/* "libcrypto" once libcrypto does the hashing, else "built-in" (static string). */
const char *sha256_backend(void);
/* Lower-case hex of 32 bytes into hex[65]. */
void sha256_hex(const uint8_t dg[32], char hex[65]);
/*
 * Hashes a file region ([off, off+len), len UINT64_MAX = to EOF) into hex;
 * 0 or -errno. Regions of 1 MiB and more load libcrypto (see sha256.c).
 */
int sha256_file(int fd, uint64_t off, uint64_t len, char hex[65], uint64_t *bytes);

#endif
