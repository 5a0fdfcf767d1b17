/* pbwire: a bounds-checked reader of the protobuf wire format (see pbwire.h). */
#include "lib/pbwire.h"

#include <errno.h>
#include <stddef.h>

int pbwire_varint(struct pbwire *b, uint64_t *v)
{
	uint64_t r = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (b->p >= b->end)
			return -EINVAL;
		uint8_t c = *b->p++;
		r |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -EINVAL;
}

/* Reads a field key; wire types 3/4 (groups) and 6/7 are rejected. */
int pbwire_key(struct pbwire *b, uint32_t *field, int *wt)
{
	uint64_t k;
	if (pbwire_varint(b, &k) < 0)
		return -EINVAL;
	*wt = (int)(k & 7);
	if (k >> 3 == 0 || k >> 3 > UINT32_MAX || *wt == 3 || *wt == 4 || *wt > 5)
		return -EINVAL;
	*field = (uint32_t)(k >> 3);
	return 0;
}

int pbwire_bytes(struct pbwire *b, struct pbwire *sub)
{
	uint64_t n;
	if (pbwire_varint(b, &n) < 0 || n > (uint64_t)(b->end - b->p))
		return -EINVAL;
	sub->p = b->p;
	sub->end = b->p + n;
	b->p += n;
	return 0;
}

int pbwire_skip(struct pbwire *b, int wt)
{
	uint64_t v;
	struct pbwire sub;
	switch (wt) {
	case 0:
		return pbwire_varint(b, &v);
	case 1:
	case 5: {
		size_t n = wt == 1 ? 8 : 4;
		if ((size_t)(b->end - b->p) < n)
			return -EINVAL;
		b->p += n;
		return 0;
	}
	case 2:
		return pbwire_bytes(b, &sub);
	default:
		return -EINVAL;
	}
}

/*
 * Calls fn for every integer of a repeated integer field, packed (wt 2) or
 * not (wt 0). fn may be NULL to count only. Returns the count or -EINVAL.
 */
long pbwire_ints(struct pbwire *b, int wt, void (*fn)(void *, uint64_t), void *arg)
{
	uint64_t v;
	if (wt == 0) {
		if (pbwire_varint(b, &v) < 0)
			return -EINVAL;
		if (fn)
			fn(arg, v);
		return 1;
	}
	if (wt != 2)
		return -EINVAL;
	struct pbwire sub;
	long n = 0;
	if (pbwire_bytes(b, &sub) < 0)
		return -EINVAL;
	while (sub.p < sub.end) {
		if (pbwire_varint(&sub, &v) < 0)
			return -EINVAL;
		if (fn)
			fn(arg, v);
		n++;
	}
	return n;
}
