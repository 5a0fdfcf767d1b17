/* perf_ring: pure parsing of perf_event mmap ring buffers and their records. */
#ifndef HOUND_PERF_RING_H
#define HOUND_PERF_RING_H

#include <stddef.h>
#include <stdint.h>

/* The sample layout hound asks for (a subset of PERF_SAMPLE_*). */
#define PERF_RING_MAX_REGS   24
#define PERF_RING_MAX_RECORD 65536 /* perf_event_header.size is 16 bits */

/* A decoded PERF_RECORD_SAMPLE. Pointers point into the record buffer. */
struct perf_sample_rec {
	uint64_t ip;
	uint32_t pid, tid;
	uint64_t time;
	uint64_t addr; /* PERF_SAMPLE_ADDR: the faulting address of a page-fault sample */
	uint64_t period;
	uint64_t nr_callchain;
	const uint64_t *callchain; /* raw, with PERF_CONTEXT_* markers */
	uint64_t regs_abi;	   /* PERF_SAMPLE_REGS_ABI_NONE when no user regs */
	uint64_t nregs;
	uint64_t regs[PERF_RING_MAX_REGS]; /* in ascending bit order of the regs mask */
	uint64_t stack_size;		   /* bytes copied (0 when none) */
	const uint8_t *stack;
	uint64_t stack_dyn_size; /* bytes of it that are valid */
};

/*
 * Decodes the body of a PERF_RECORD_SAMPLE (rec points at the perf_event_header)
 * laid out by sample_type (only IP, TID, TIME, ADDR, PERIOD, CALLCHAIN, REGS_USER and
 * STACK_USER are understood; others give -ENOTSUP) and the regs_user mask.
 * Pure. Returns 0 or -EINVAL when the record is shorter than its fields say.
 */
int perf_ring_parse_sample(const void *rec, size_t len, uint64_t sample_type, uint64_t regs_mask,
			   struct perf_sample_rec *out);

/* PERF_RECORD_LOST: the number of samples the kernel dropped. -EINVAL when short. */
int perf_ring_parse_lost(const void *rec, size_t len, uint64_t *lost);

/* Called with each whole record (contiguous even when it wrapped in the ring). */
typedef void (*perf_ring_fn)(const void *rec, size_t len, void *arg);

/*
 * Walks the records in data (the ring's data area, size a power of two) from
 * byte position tail to head (free-running counters as in perf_event_mmap_page),
 * copying a record that wraps around the end into scratch (PERF_RING_MAX_RECORD
 * bytes). Pure. Returns the new tail (head, or where a malformed header stopped
 * the walk, in which case *bad is set).
 */
uint64_t perf_ring_walk(const uint8_t *data, size_t size, uint64_t tail, uint64_t head,
			uint8_t *scratch, perf_ring_fn fn, void *arg, int *bad);

#endif
