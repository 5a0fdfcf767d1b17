/* hsperf: a pure parser for HotSpot's PerfData memory (the hsperfdata file). */
#ifndef HOUND_HSPERF_H
#define HOUND_HSPERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The file starts with a 32-byte prologue whose magic is always stored big
 * endian; every other field is in the byte order the prologue names. Entries
 * follow from entry_offset, each a 20-byte header, a NUL-terminated name and
 * the data. The JVM only appends entries and bumps `used` and `num_entries`,
 * so a reader that bounds every offset by `used` is safe while it runs.
 */
#define HSPERF_MAGIC 0xcafec0c0u
#define HSPERF_PROLOGUE_SIZE 32
#define HSPERF_ENTRY_HEADER_SIZE 20

struct hsperf_header {
	bool little;          /* byte order of everything after the magic */
	uint8_t major, minor; /* format version: 2.0 since JDK 1.5 */
	bool accessible;      /* the JVM finished initialising the region */
	uint32_t used;        /* bytes of the region in use */
	uint32_t entry_offset;
	uint32_t num_entries;
};

/* Units and variability as HotSpot numbers them. */
enum { HSPERF_U_NONE = 1, HSPERF_U_BYTES, HSPERF_U_TICKS, HSPERF_U_EVENTS, HSPERF_U_STRING,
       HSPERF_U_HERTZ };
enum { HSPERF_V_CONSTANT = 1, HSPERF_V_MONOTONIC, HSPERF_V_VARIABLE };

struct hsperf_entry {
	const char *name;     /* points into the buffer; NUL-terminated within it */
	size_t name_len;
	char type;            /* 'J' long, 'B' byte vector (strings) ... */
	uint8_t units, variability;
	uint32_t vector_length; /* 0 for a scalar */
	size_t data_off;      /* offset of the value from the start of the buffer */
	size_t data_len;      /* 8 for a 'J' scalar, vector_length for 'B' */
};

struct hsperf_iter {
	size_t off;
	uint32_t i;
};

/*
 * Checks the prologue of a len-byte buffer. Returns 0, -EINVAL (not PerfData,
 * a version other than 2, offsets outside the buffer) or -EAGAIN (the JVM has
 * not marked it accessible yet). Pure.
 */
int hsperf_parse_header(const void *buf, size_t len, struct hsperf_header *out);

void hsperf_iter_init(const struct hsperf_header *h, struct hsperf_iter *it);

/*
 * The next entry: 1 with *e filled, 0 at the end, -EINVAL for a malformed
 * entry (lengths, offsets or a name outside `used`). Pure.
 */
int hsperf_next(const void *buf, size_t len, const struct hsperf_header *h, struct hsperf_iter *it,
		struct hsperf_entry *e);

/*
 * Reads a 'J' value at off. The JVM updates counters in place with plain
 * aligned 8-byte stores, so one aligned volatile load never tears.
 */
int64_t hsperf_long(const void *buf, const struct hsperf_header *h, size_t off);

/*
 * Finds an entry by exact name (a linear scan: meant for one-off lookups;
 * samplers keep offsets). Returns 1 and *e, 0 when absent, -EINVAL when
 * the region is malformed.
 */
int hsperf_find(const void *buf, size_t len, const struct hsperf_header *h, const char *name,
		struct hsperf_entry *e);

/* Copies a 'B' string entry into out (NUL-terminated, truncated to outlen). */
void hsperf_string(const void *buf, const struct hsperf_entry *e, char *out, size_t outlen);

#endif
