/*
 * hsperf: HotSpot PerfData, parsed in place. Nothing here allocates or does
 * I/O, so it runs on a mapped file on the sampling path and on fuzz input.
 */
#include "lib/hsperf.h"

#include <errno.h>
#include <string.h>

static uint32_t u32(const unsigned char *p, bool little)
{
	if (little)
		return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

int hsperf_parse_header(const void *buf, size_t len, struct hsperf_header *out)
{
	const unsigned char *p = buf;

	memset(out, 0, sizeof(*out));
	if (len < HSPERF_PROLOGUE_SIZE || u32(p, false) != HSPERF_MAGIC)
		return -EINVAL;
	if (p[4] > 1)
		return -EINVAL;
	out->little = p[4] == 1;
	out->major = p[5];
	out->minor = p[6];
	out->accessible = p[7] != 0;
	out->used = u32(p + 8, out->little);
	out->entry_offset = u32(p + 24, out->little);
	out->num_entries = u32(p + 28, out->little);
	if (out->major != 2)
		return -EINVAL;
	if (!out->accessible)
		return -EAGAIN;
	if (out->used > len)
		out->used = (uint32_t)len; /* the file is smaller than it claims: trust the file */
	if (out->entry_offset < HSPERF_PROLOGUE_SIZE || out->entry_offset > out->used)
		return -EINVAL;
	return 0;
}

void hsperf_iter_init(const struct hsperf_header *h, struct hsperf_iter *it)
{
	it->off = h->entry_offset;
	it->i = 0;
}

int hsperf_next(const void *buf, size_t len, const struct hsperf_header *h, struct hsperf_iter *it,
		struct hsperf_entry *e)
{
	const unsigned char *p = buf;
	size_t end = h->used < len ? h->used : len;

	if (it->i >= h->num_entries || it->off >= end)
		return 0;
	if (end - it->off < HSPERF_ENTRY_HEADER_SIZE)
		return -EINVAL;
	const unsigned char *q = p + it->off;
	uint32_t elen = u32(q, h->little), name_off = u32(q + 4, h->little);
	uint32_t vlen = u32(q + 8, h->little), data_off = u32(q + 16, h->little);
	if (elen < HSPERF_ENTRY_HEADER_SIZE || elen > end - it->off || name_off >= elen ||
	    name_off < HSPERF_ENTRY_HEADER_SIZE || data_off >= elen)
		return -EINVAL;
	const char *name = (const char *)q + name_off;
	const char *nul = memchr(name, '\0', elen - name_off);
	if (!nul)
		return -EINVAL;
	e->name = name;
	e->name_len = (size_t)(nul - name);
	e->type = (char)q[12];
	e->units = q[14];
	e->variability = q[15];
	e->vector_length = vlen;
	e->data_off = it->off + data_off;
	e->data_len = vlen ? vlen : e->type == 'J' ? 8 : 1;
	if (e->data_len > elen - data_off)
		return -EINVAL;
	it->off += elen;
	it->i++;
	return 1;
}

int64_t hsperf_long(const void *buf, const struct hsperf_header *h, size_t off)
{
	const unsigned char *p = (const unsigned char *)buf + off;
	uint64_t v;

	if ((off & 7) == 0 && ((uintptr_t)p & 7) == 0) {
		v = *(const volatile uint64_t *)(const void *)p;
		/* the value is in the JVM's byte order, which is this machine's */
		if (h->little != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__))
			v = __builtin_bswap64(v);
		return (int64_t)v;
	}
	v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[h->little ? i : 7 - i] << (8 * i);
	return (int64_t)v;
}

int hsperf_find(const void *buf, size_t len, const struct hsperf_header *h, const char *name,
		struct hsperf_entry *e)
{
	struct hsperf_iter it;
	size_t n = strlen(name);
	int rc;

	hsperf_iter_init(h, &it);
	while ((rc = hsperf_next(buf, len, h, &it, e)) == 1)
		if (e->name_len == n && memcmp(e->name, name, n) == 0)
			return 1;
	return rc;
}

void hsperf_string(const void *buf, const struct hsperf_entry *e, char *out, size_t outlen)
{
	const char *s = (const char *)buf + e->data_off;
	size_t n = 0;

	if (!outlen)
		return;
	if (e->type == 'B')
		while (n < e->data_len && n + 1 < outlen && s[n])
			n++;
	memcpy(out, s, n);
	out[n] = '\0';
}
