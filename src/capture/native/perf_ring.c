/* perf_ring: pure parsing of perf_event mmap ring buffers and their records. */
#include "capture/native/perf_ring.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>

#define SUPPORTED                                                                                  \
	(PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ADDR | PERF_SAMPLE_PERIOD |                \
	 PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)

struct cur {
	const uint8_t *p, *end;
};

static int take_u64(struct cur *c, uint64_t *v)
{
	if ((size_t)(c->end - c->p) < 8)
		return -EINVAL;
	memcpy(v, c->p, 8);
	c->p += 8;
	return 0;
}

int perf_ring_parse_sample(const void *rec, size_t len, uint64_t sample_type, uint64_t regs_mask,
			   struct perf_sample_rec *out)
{
	struct cur c = {(const uint8_t *)rec, (const uint8_t *)rec + len};
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (sample_type & ~(uint64_t)SUPPORTED)
		return -ENOTSUP;
	if (len < sizeof(struct perf_event_header))
		return -EINVAL;
	c.p += sizeof(struct perf_event_header);
	if ((sample_type & PERF_SAMPLE_IP) && take_u64(&c, &out->ip))
		return -EINVAL;
	if (sample_type & PERF_SAMPLE_TID) {
		if (take_u64(&c, &v))
			return -EINVAL;
		out->pid = (uint32_t)v;
		out->tid = (uint32_t)(v >> 32);
	}
	if ((sample_type & PERF_SAMPLE_TIME) && take_u64(&c, &out->time))
		return -EINVAL;
	if ((sample_type & PERF_SAMPLE_ADDR) && take_u64(&c, &out->addr))
		return -EINVAL;
	if ((sample_type & PERF_SAMPLE_PERIOD) && take_u64(&c, &out->period))
		return -EINVAL;
	if (sample_type & PERF_SAMPLE_CALLCHAIN) {
		if (take_u64(&c, &out->nr_callchain))
			return -EINVAL;
		if (out->nr_callchain > (size_t)(c.end - c.p) / 8)
			return -EINVAL;
		out->callchain = (const uint64_t *)(const void *)c.p;
		c.p += out->nr_callchain * 8;
	}
	if (sample_type & PERF_SAMPLE_REGS_USER) {
		if (take_u64(&c, &out->regs_abi))
			return -EINVAL;
		if (out->regs_abi != PERF_SAMPLE_REGS_ABI_NONE) {
			uint64_t n = (uint64_t)__builtin_popcountll(regs_mask);
			if (n > PERF_RING_MAX_REGS || n > (size_t)(c.end - c.p) / 8)
				return -EINVAL;
			memcpy(out->regs, c.p, n * 8);
			out->nregs = n;
			c.p += n * 8;
		}
	}
	if (sample_type & PERF_SAMPLE_STACK_USER) {
		if (take_u64(&c, &out->stack_size))
			return -EINVAL;
		if (out->stack_size) {
			if (out->stack_size > (size_t)(c.end - c.p))
				return -EINVAL;
			out->stack = c.p;
			c.p += out->stack_size;
			if (take_u64(&c, &out->stack_dyn_size))
				return -EINVAL;
			if (out->stack_dyn_size > out->stack_size)
				out->stack_dyn_size = out->stack_size;
		}
	}
	return 0;
}

int perf_ring_parse_lost(const void *rec, size_t len, uint64_t *lost)
{
	/* header, u64 id, u64 lost */
	if (len < sizeof(struct perf_event_header) + 16)
		return -EINVAL;
	memcpy(lost, (const uint8_t *)rec + sizeof(struct perf_event_header) + 8, 8);
	return 0;
}

uint64_t perf_ring_walk(const uint8_t *data, size_t size, uint64_t tail, uint64_t head,
			uint8_t *scratch, perf_ring_fn fn, void *arg, int *bad)
{
	size_t mask = size - 1;

	*bad = 0;
	while (head - tail >= sizeof(struct perf_event_header)) {
		struct perf_event_header h;
		size_t off = (size_t)(tail & mask);
		size_t first = size - off;

		if (first >= sizeof(h)) {
			memcpy(&h, data + off, sizeof(h));
		} else {
			memcpy(&h, data + off, first);
			memcpy((uint8_t *)&h + first, data, sizeof(h) - first);
		}
		if (h.size < sizeof(h) || h.size > head - tail || h.size > size) {
			*bad = 1;
			return head;
		}
		if (first >= h.size) {
			fn(data + off, h.size, arg);
		} else {
			memcpy(scratch, data + off, first);
			memcpy(scratch + first, data, h.size - first);
			fn(scratch, h.size, arg);
		}
		tail += h.size;
	}
	return tail;
}
