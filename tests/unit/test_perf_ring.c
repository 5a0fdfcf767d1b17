/* Unit tests for the perf ring-buffer walker and record parser on synthetic records. */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <string.h>

#include "capture/native/perf_ring.h"
#include "tap.h"

#define TYPE                                                                                       \
	(PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_PERIOD |                \
	 PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)
#define REGS_MASK 0x1ffULL /* 9 registers */

static uint64_t rec_buf[1024];

static size_t put(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, 8);
	return off + 8;
}

/* A sample as the kernel lays it out; returns its size. */
static size_t make_sample(uint8_t *p, uint32_t tid, uint64_t stack_bytes, uint64_t dyn)
{
	struct perf_event_header h = {PERF_RECORD_SAMPLE, 0, 0};
	size_t o = sizeof(h);

	o = put(p, o, 0x401000);		 /* ip */
	o = put(p, o, (uint64_t)tid << 32 | 77); /* pid 77, tid */
	o = put(p, o, 123456789);		 /* time */
	o = put(p, o, 10101010);		 /* period */
	o = put(p, o, 4);			 /* callchain nr */
	o = put(p, o, (uint64_t)PERF_CONTEXT_USER);
	o = put(p, o, 0x401000);
	o = put(p, o, 0x401234);
	o = put(p, o, 0x405678);
	o = put(p, o, PERF_SAMPLE_REGS_ABI_64);
	for (int i = 0; i < 9; i++)
		o = put(p, o, 0x1000 + (uint64_t)i);
	o = put(p, o, stack_bytes);
	memset(p + o, 0xab, stack_bytes);
	o += stack_bytes;
	if (stack_bytes)
		o = put(p, o, dyn);
	h.size = (uint16_t)o;
	memcpy(p, &h, sizeof(h));
	return o;
}

struct seen {
	int n;
	uint32_t tids[16];
	uint64_t lost;
};

static void on_rec(const void *rec, size_t len, void *arg)
{
	struct seen *s = arg;
	const struct perf_event_header *h = rec;
	struct perf_sample_rec r;

	if (h->type == PERF_RECORD_LOST) {
		uint64_t l = 0;
		if (perf_ring_parse_lost(rec, len, &l) == 0)
			s->lost += l;
		return;
	}
	if (perf_ring_parse_sample(rec, len, TYPE, REGS_MASK, &r) == 0 && s->n < 16 &&
	    r.stack_size == 64 && r.stack[63] == 0xab && r.regs[8] == 0x1008)
		s->tids[s->n++] = r.tid;
}

static size_t make_lost(uint8_t *p, uint64_t lost)
{
	struct perf_event_header h = {PERF_RECORD_LOST, 0, 24};
	memcpy(p, &h, sizeof(h));
	put(p, 8, 1);
	put(p, 16, lost);
	return 24;
}

int main(void)
{
	uint8_t *p = (uint8_t *)rec_buf;
	struct perf_sample_rec r;
	size_t len = make_sample(p, 4242, 64, 40);
	int bad_trunc = 0;

	/* a whole sample */
	is_int(perf_ring_parse_sample(p, len, TYPE, REGS_MASK, &r), 0, "sample parses");
	is_int(r.ip, 0x401000, "ip");
	is_int(r.pid, 77, "pid");
	is_int(r.tid, 4242, "tid");
	is_int(r.time, 123456789, "time");
	is_int(r.period, 10101010, "period");
	is_int(r.nr_callchain, 4, "callchain length, with the context marker");
	is_int(r.callchain[3], 0x405678, "outermost callchain entry");
	is_int(r.regs_abi, PERF_SAMPLE_REGS_ABI_64, "regs abi");
	is_int(r.nregs, 9, "one register per mask bit");
	is_int(r.regs[7], 0x1007, "SP in mask order");
	is_int(r.stack_size, 64, "stack copy size");
	is_int(r.stack_dyn_size, 40, "valid part of the copy");
	ok(r.stack == p + len - 8 - 64, "stack points into the record");

	/* dyn_size larger than the copy is clamped */
	len = make_sample(p, 1, 64, 1000);
	perf_ring_parse_sample(p, len, TYPE, REGS_MASK, &r);
	is_int(r.stack_dyn_size, 64, "dyn_size clamped to the copy");

	/* no stack copy: no dyn_size field follows */
	len = make_sample(p, 1, 0, 0);
	is_int(perf_ring_parse_sample(p, len, TYPE, REGS_MASK, &r), 0, "sample without stack");
	ok(r.stack == NULL && r.stack_size == 0, "no stack pointer");

	/* every truncation is caught, never read past the end */
	len = make_sample(p, 1, 64, 40);
	for (size_t cut = 0; cut < len; cut++)
		if (perf_ring_parse_sample(p, cut, TYPE, REGS_MASK, &r) != -EINVAL)
			bad_trunc++;
	is_int(bad_trunc, 0, "all %zu truncated lengths give -EINVAL", len);

	/* a callchain count that overflows the record */
	len = make_sample(p, 1, 64, 40);
	put(p, 40, (uint64_t)1 << 60);
	is_int(perf_ring_parse_sample(p, len, TYPE, REGS_MASK, &r), -EINVAL, "huge callchain nr");
	is_int(perf_ring_parse_sample(p, len, TYPE | PERF_SAMPLE_RAW, REGS_MASK, &r), -ENOTSUP,
	       "unknown sample layout refused");

	/* kernel sample without user regs */
	{
		uint8_t q[256];
		struct perf_event_header h = {PERF_RECORD_SAMPLE, 0, 0};
		size_t o = sizeof(h);
		o = put(q, o, PERF_SAMPLE_REGS_ABI_NONE);
		o = put(q, o, 0);
		h.size = (uint16_t)o;
		memcpy(q, &h, sizeof(h));
		is_int(perf_ring_parse_sample(q, o, PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER,
					      REGS_MASK, &r),
		       0, "ABI_NONE sample parses");
		is_int(r.nregs, 0, "no registers");
	}

	/* lost records */
	{
		uint8_t q[32];
		uint64_t lost = 0;
		make_lost(q, 17);
		is_int(perf_ring_parse_lost(q, 24, &lost), 0, "lost record parses");
		is_int(lost, 17, "lost count");
		is_int(perf_ring_parse_lost(q, 20, &lost), -EINVAL, "short lost record");
	}

	/* ring walk: three samples and a lost record, one of them wrapping the end */
	{
		static uint64_t ring64[512]; /* 4096 bytes */
		static uint64_t scratch64[PERF_RING_MAX_RECORD / 8];
		uint8_t *ring = (uint8_t *)ring64, tmp[1024];
		size_t size = sizeof(ring64), one;
		uint64_t start = 3 * (uint64_t)size - 300, pos = start, tail;
		struct seen s = {0};
		int bad = 0;
		uint32_t tids[3] = {11, 22, 33};

		for (int i = 0; i < 3; i++) {
			one = make_sample(tmp, tids[i], 64, 64);
			for (size_t b = 0; b < one; b++)
				ring[(pos + b) & (size - 1)] = tmp[b];
			pos += one;
			if (i == 0) {
				one = make_lost(tmp, 5);
				for (size_t b = 0; b < one; b++)
					ring[(pos + b) & (size - 1)] = tmp[b];
				pos += one;
			}
		}
		tail =
		    perf_ring_walk(ring, size, start, pos, (uint8_t *)scratch64, on_rec, &s, &bad);
		is_int(tail, pos, "walk consumes up to head");
		is_int(bad, 0, "no malformed header");
		is_int(s.n, 3, "three samples, the wrapped one included");
		ok(s.tids[0] == 11 && s.tids[1] == 22 && s.tids[2] == 33, "in order");
		is_int(s.lost, 5, "lost records counted");

		/* a partial record (head mid-record) is left for later */
		memset(&s, 0, sizeof(s));
		tail = perf_ring_walk(ring, size, start, pos - 8, (uint8_t *)scratch64, on_rec, &s,
				      &bad);
		is_int(s.n, 2, "records before a torn one delivered");
		ok(bad && tail == pos - 8,
		   "a record past head is flagged and skipped, not looped on");

		/* a zero-size header stops the walk instead of looping */
		memset(&s, 0, sizeof(s));
		memset(ring, 0, size);
		tail = perf_ring_walk(ring, size, 0, 64, (uint8_t *)scratch64, on_rec, &s, &bad);
		ok(bad && s.n == 0, "zero-size record flagged");
	}
	done_testing();
}
