/* mtrack_event: what the malloc-tracking BPF program and hound share (maps' values, events). */
#ifndef HOUND_MTRACK_EVENT_H
#define HOUND_MTRACK_EVENT_H

#include <linux/types.h>

/* Exponential draws for the sampling countdown (a power of two). */
#define MTRACK_DRAWS 1024
/* Sample ids are next_id * MTRACK_MAX_CPUS + cpu: unique without a shared counter. */
#define MTRACK_MAX_CPUS 4096
#define MTRACK_MAX_PENDING 16384
#define MTRACK_MAX_LIVE (1 << 17)
#define MTRACK_RING_BYTES (8u << 20)
/* The user stack copied per sampled call, read in chunks (it may end before). */
#define MTRACK_STACK_BYTES 8192
#define MTRACK_STACK_CHUNK 1024
#define MTRACK_NREGS 17

#define MTRACK_MAP_ANONYMOUS 0x20
#define MTRACK_MAP_NORESERVE 0x4000

enum mtrack_kind {
	MTRACK_MALLOC = 1,
	MTRACK_CALLOC,
	MTRACK_REALLOC,
	MTRACK_POSIX_MEMALIGN,
	MTRACK_MEMALIGN,
	MTRACK_MMAP,
};

/* Per-CPU state and counters (summed by hound). */
struct mtrack_cpu {
	__s64 countdown; /* bytes until the next sample */
	__u64 next_id;
	__u64 alloc_calls, free_calls, sampled;
	__u64 ring_full, live_full;
};

/* A live sampled allocation: its requested size and the sample that saw it. */
struct mtrack_live {
	__u64 size, id;
};

/* One sampled call: registers at the allocator's entry and the user stack above them. */
struct mtrack_event {
	__u64 id, size;
	__u32 kind, tid;
	char comm[16];
	__u64 regs[MTRACK_NREGS];
	__u32 stack_len, pad;
	__u8 stack[MTRACK_STACK_BYTES];
};

#endif
