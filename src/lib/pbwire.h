/*
 * pbwire: a bounds-checked reader of the protobuf wire format, for the pprof
 * decoder. Every function returns 0 (or a count) and advances the reader, or
 * -EINVAL without reading past the end.
 */
#ifndef HOUND_PBWIRE_H
#define HOUND_PBWIRE_H

#include <stdint.h>

/* The unread part of a message: [p, end). */
struct pbwire {
	const uint8_t *p, *end;
};

int pbwire_varint(struct pbwire *b, uint64_t *v);
/* Reads a field key; wire types 3/4 (groups) and 6/7 are rejected. */
int pbwire_key(struct pbwire *b, uint32_t *field, int *wt);
/* A length-delimited field: sub covers its bytes, b moves past them. */
int pbwire_bytes(struct pbwire *b, struct pbwire *sub);
/* Skips one field of wire type wt. */
int pbwire_skip(struct pbwire *b, int wt);
/*
 * Calls fn for every integer of a repeated integer field, packed (wt 2) or
 * not (wt 0). fn may be NULL to count only. Returns the count or -EINVAL.
 */
long pbwire_ints(struct pbwire *b, int wt, void (*fn)(void *, uint64_t), void *arg);

#endif
