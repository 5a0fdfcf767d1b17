/* sha256: SHA-256 (FIPS 180-4), streaming, for bundle manifests and S3 payload hashes. */
#include "lib/sha256.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Bulk hashing (S3 payloads, large bundle files) goes through OpenSSL's
 * libcrypto, whose SHA-NI/AVX2 code is about ten times faster than the
 * portable rounds below. libcrypto is loaded with dlopen, not linked: it
 * costs ~3 ms and ~3.8 MiB of mapped pages to load, which `hound stacks`,
 * `hound capture` of small bundles and the agent's RSS budget should not
 * pay. It is loaded when a region of SHA256_BULK_MIN bytes or more is
 * hashed, or reused at no cost when libcurl already brought it in for an
 * upload; small inputs (API tokens, alert labels) keep the built-in rounds,
 * which also serve when libcrypto cannot be loaded.
 */
#define LIBCRYPTO_SONAME "libcrypto.so.3"
#define SHA256_BULK_MIN	 (1u << 20)

static struct {
	__typeof__(EVP_MD_fetch) *md_fetch;
	__typeof__(EVP_MD_CTX_new) *ctx_new;
	__typeof__(EVP_MD_CTX_free) *ctx_free;
	__typeof__(EVP_DigestInit_ex) *init;
	__typeof__(EVP_DigestUpdate) *update;
	__typeof__(EVP_DigestFinal_ex) *final;
	EVP_MD *md;
} ossl;
static pthread_mutex_t ossl_lock = PTHREAD_MUTEX_INITIALIZER;
static int ossl_state; /* 0 not tried, 1 loaded, -1 unavailable; atomic reads */

/* Resolves ossl from an open libcrypto handle; false when a symbol is missing. */
static bool ossl_bind(void *lib)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
	    {"EVP_MD_fetch", offsetof(__typeof__(ossl), md_fetch)},
	    {"EVP_MD_CTX_new", offsetof(__typeof__(ossl), ctx_new)},
	    {"EVP_MD_CTX_free", offsetof(__typeof__(ossl), ctx_free)},
	    {"EVP_DigestInit_ex", offsetof(__typeof__(ossl), init)},
	    {"EVP_DigestUpdate", offsetof(__typeof__(ossl), update)},
	    {"EVP_DigestFinal_ex", offsetof(__typeof__(ossl), final)},
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *fn = dlsym(lib, syms[i].name);
		if (!fn)
			return false;
		memcpy((char *)&ossl + syms[i].off, &fn, sizeof(fn));
	}
	/* One explicit fetch: EVP_sha256() would look the provider up on every init. */
	ossl.md = ossl.md_fetch(NULL, "SHA256", NULL);
	return ossl.md != NULL;
}

/*
 * True when libcrypto is usable. load: dlopen it if it is not in the process
 * yet; otherwise only a copy already loaded (by libcurl) is taken. A failed
 * load is not retried; the built-in rounds take over.
 */
static bool ossl_ready(bool load)
{
	int st = __atomic_load_n(&ossl_state, __ATOMIC_ACQUIRE);
	if (st != 0)
		return st > 0;
	pthread_mutex_lock(&ossl_lock);
	if (ossl_state == 0) {
		void *lib = dlopen(LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
		if (!lib && load)
			lib = dlopen(LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (lib)
			/* Never unloaded: a cached EVP_MD points into it. */
			__atomic_store_n(&ossl_state, ossl_bind(lib) ? 1 : -1, __ATOMIC_RELEASE);
		else if (load)
			__atomic_store_n(&ossl_state, -1, __ATOMIC_RELEASE);
	}
	st = ossl_state;
	pthread_mutex_unlock(&ossl_lock);
	return st > 0;
}

const char *sha256_backend(void)
{
	return __atomic_load_n(&ossl_state, __ATOMIC_ACQUIRE) > 0 ? "libcrypto" : "built-in";
}

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void block(struct sha256_ctx *c, const uint8_t *p)
{
	uint32_t w[64], a, b, cc, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
	e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
		h = g, g = f, f = e, e = d + t1;
		d = cc, cc = b, b = a, a = t1 + t2;
	}
	c->h[0] += a, c->h[1] += b, c->h[2] += cc, c->h[3] += d;
	c->h[4] += e, c->h[5] += f, c->h[6] += g, c->h[7] += h;
}

static void builtin_init(struct sha256_ctx *c)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(c->h, iv, sizeof(iv));
	c->len = 0;
	c->nbuf = 0;
}

static void builtin_update(struct sha256_ctx *c, const void *data, size_t n)
{
	const uint8_t *p = data;
	c->len += n;
	if (c->nbuf) {
		size_t take = 64 - c->nbuf < n ? 64 - c->nbuf : n;
		memcpy(c->buf + c->nbuf, p, take);
		c->nbuf += take, p += take, n -= take;
		if (c->nbuf < 64)
			return;
		block(c, c->buf);
		c->nbuf = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		block(c, p);
	memcpy(c->buf, p, n);
	c->nbuf = n;
}

static void builtin_final(struct sha256_ctx *c, uint8_t out[32])
{
	uint64_t bits = c->len * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (c->nbuf < 56 ? 56 : 120) - c->nbuf;
	uint8_t lenb[8];

	for (int i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
	builtin_update(c, pad, padlen);
	builtin_update(c, lenb, 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(c->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->h[i];
	}
}

/* An EVP context when libcrypto is loaded and a new one could be made, else NULL. */
static EVP_MD_CTX *evp_begin(bool load)
{
	EVP_MD_CTX *e;
	if (!ossl_ready(load) || !(e = ossl.ctx_new()))
		return NULL;
	if (ossl.init(e, ossl.md, NULL) != 1) {
		ossl.ctx_free(e);
		return NULL;
	}
	return e;
}

void sha256_init(struct sha256_ctx *c)
{
	/* Streaming callers hash small inputs: libcrypto only when already loaded. */
	c->evp = __atomic_load_n(&ossl_state, __ATOMIC_ACQUIRE) > 0 ? evp_begin(false) : NULL;
	builtin_init(c);
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t n)
{
	if (c->evp)
		ossl.update(c->evp, data, n);
	else
		builtin_update(c, data, n);
}

void sha256_final(struct sha256_ctx *c, uint8_t out[32])
{
	if (c->evp) {
		unsigned int n = 0;
		ossl.final(c->evp, out, &n);
		ossl.ctx_free(c->evp);
		c->evp = NULL;
		return;
	}
	builtin_final(c, out);
}

void sha256_hex(const uint8_t dg[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[dg[i] >> 4];
		hex[2 * i + 1] = digits[dg[i] & 15];
	}
	hex[64] = '\0';
}

int sha256_file(int fd, uint64_t off, uint64_t len, char hex[65], uint64_t *bytes)
{
	uint8_t buf[65536];
	struct sha256_ctx c;
	uint8_t dg[32];
	uint64_t done = 0, size = len;
	struct stat st;

	if (len == UINT64_MAX && fstat(fd, &st) == 0 && st.st_size > (off_t)off)
		size = (uint64_t)st.st_size - off;
	builtin_init(&c);
	/* Small files take libcrypto only when it is already loaded (by libcurl). */
	c.evp = evp_begin(size != UINT64_MAX && size >= SHA256_BULK_MIN);
	if (c.evp)
		posix_fadvise(fd, (off_t)off, len == UINT64_MAX ? 0 : (off_t)len,
			      POSIX_FADV_SEQUENTIAL);
	while (done < len) {
		size_t want = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
		ssize_t r = pread(fd, buf, want, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			sha256_final(&c, dg); /* frees the EVP context */
			return -e;
		}
		if (r == 0)
			break;
		sha256_update(&c, buf, (size_t)r);
		done += (uint64_t)r;
	}
	sha256_final(&c, dg);
	if (len != UINT64_MAX && done != len)
		return -EIO;
	sha256_hex(dg, hex);
	if (bytes)
		*bytes = done;
	return 0;
}
