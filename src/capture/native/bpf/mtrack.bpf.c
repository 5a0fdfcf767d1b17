/*
 * mtrack.bpf.c: the in-kernel half of malloc tracking (uprobes on the
 * allocator a target process really uses). Built with clang -target bpf and
 * embedded in hound as a bpftool skeleton; loaded by mtrack_bpf.c.
 *
 * Every allocator call traps into the kernel (a uprobe costs microseconds,
 * whatever this program does), so the program does as little as it can:
 * an unsampled call only subtracts its size from a per-CPU countdown. When
 * the countdown runs out (Poisson sampling by bytes: the countdown is drawn
 * from an exponential distribution of mean `sample_bytes`), the call's
 * registers and a copy of its user stack go to a ring buffer for hound's
 * DWARF unwinder (Debian's libraries have no frame pointers), and its
 * address, once returned, enters the live table. free() deletes from the
 * live table; what is left in it at the end is the sampled memory still
 * held. Nothing else is kept per call.
 */
#include <linux/types.h>
#include <linux/bpf.h>

/*
 * The x86_64 struct pt_regs (kernel field names), stable ABI: declared here
 * rather than generated from the build machine's kernel BTF, so the object
 * builds anywhere and reads no kernel structure that could move.
 */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
#define __VMLINUX_H__ 1

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "capture/native/bpf/mtrack_event.h"

/* Set before load (rodata). */
const volatile __u32 target_tgid = 0;
const volatile __u64 exp_draws[MTRACK_DRAWS] = {};

/* Written by hound while attached (bss is mmap'd by the skeleton). */
__u32 tracking = 0; /* 0: only count calls (the cost guard), 1: sample */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mtrack_cpu);
} cpu_state SEC(".maps");

struct pending {
	__u64 size, id, memptr;
	__u32 kind, pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MTRACK_MAX_PENDING);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct pending);
} pending SEC(".maps");

/*
 * Allocator calls in flight per thread. An mmap made inside malloc is that
 * malloc's memory (counted by its own size), and its stack would cross the
 * return address the uretprobe has replaced with its trampoline: skipped.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MTRACK_MAX_PENDING);
	__type(key, __u64); /* pid_tgid */
	__type(value, __u32);
} inside SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MTRACK_MAX_LIVE);
	__type(key, __u64); /* address */
	__type(value, struct mtrack_live);
} live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MTRACK_RING_BYTES);
} events SEC(".maps");

static __always_inline struct mtrack_cpu *cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_state, &zero);
}

static __always_inline int ours(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

/*
 * Counts one allocation of size bytes and decides whether it is sampled.
 * Returns the sample id (> 0) or 0.
 */
static __always_inline __u64 sample(struct mtrack_cpu *c, __u64 size)
{
	__s64 left;

	c->alloc_calls++;
	if (!tracking || size == 0)
		return 0;
	left = c->countdown - (__s64)size;
	if (left > 0) {
		c->countdown = left;
		return 0;
	}
	c->countdown = (__s64)exp_draws[bpf_get_prandom_u32() & (MTRACK_DRAWS - 1)];
	c->sampled++;
	return ++c->next_id * MTRACK_MAX_CPUS + bpf_get_smp_processor_id();
}

/* Sends the registers and user stack of a sampled call to hound. */
static __always_inline void emit(struct pt_regs *ctx, struct mtrack_cpu *c, __u64 id,
				 __u64 size, __u32 kind)
{
	struct mtrack_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u64 sp = ctx->sp;
	__u32 len = 0;

	if (!e) {
		c->ring_full++;
		return;
	}
	e->id = id;
	e->size = size;
	e->kind = kind;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* the order of PERF_UNWIND_REGS_MASK: ax bx cx dx si di bp sp ip r8..r15 */
	e->regs[0] = ctx->ax;
	e->regs[1] = ctx->bx;
	e->regs[2] = ctx->cx;
	e->regs[3] = ctx->dx;
	e->regs[4] = ctx->si;
	e->regs[5] = ctx->di;
	e->regs[6] = ctx->bp;
	e->regs[7] = ctx->sp;
	e->regs[8] = ctx->ip;
	e->regs[9] = ctx->r8;
	e->regs[10] = ctx->r9;
	e->regs[11] = ctx->r10;
	e->regs[12] = ctx->r11;
	e->regs[13] = ctx->r12;
	e->regs[14] = ctx->r13;
	e->regs[15] = ctx->r14;
	e->regs[16] = ctx->r15;
	/* chunk by chunk: the stack may end (unmapped) before MTRACK_STACK_BYTES */
#pragma unroll
	for (int i = 0; i < MTRACK_STACK_BYTES / MTRACK_STACK_CHUNK; i++) {
		if (bpf_probe_read_user(e->stack + i * MTRACK_STACK_CHUNK, MTRACK_STACK_CHUNK,
					(const void *)(sp + i * MTRACK_STACK_CHUNK)) < 0)
			break;
		len += MTRACK_STACK_CHUNK;
	}
	e->stack_len = len;
	bpf_ringbuf_submit(e, 0);
}

/* One more (up) or one fewer allocator call in flight on this thread. */
static __always_inline void depth(__u64 key, int up)
{
	__u32 *v = bpf_map_lookup_elem(&inside, &key), one = 1;

	if (v) {
		if (up)
			*v += 1;
		else if (*v > 0)
			*v -= 1;
	} else if (up) {
		bpf_map_update_elem(&inside, &key, &one, BPF_ANY);
	}
}

/* Entry of an allocation: remember a sampled call until it returns. */
static __always_inline int enter(struct pt_regs *ctx, __u64 size, __u32 kind, __u64 memptr)
{
	__u64 key = bpf_get_current_pid_tgid(), id;
	struct mtrack_cpu *c = cpu();
	struct pending p = {};
	__u32 *in;
	int nested;

	if (!c || !ours())
		return 0;
	/*
	 * A call made inside another allocator call (realloc(NULL) -> malloc,
	 * malloc -> mmap) is the outer call's memory, already counted; its
	 * stack would also cross the outer call's hijacked return address.
	 */
	in = bpf_map_lookup_elem(&inside, &key);
	nested = in && *in > 0;
	if (kind != MTRACK_MMAP)
		depth(key, 1);
	if (nested)
		return 0;
	id = sample(c, size);
	if (!id)
		return 0;
	p.size = size;
	p.id = id;
	p.memptr = memptr;
	p.kind = kind;
	if (bpf_map_update_elem(&pending, &key, &p, BPF_ANY) < 0) {
		c->live_full++;
		return 0;
	}
	emit(ctx, c, id, size, kind);
	return 0;
}

/* Return of an allocation: the address of a sampled call enters the live table. */
static __always_inline int leave(__u64 addr, __u32 kind)
{
	__u64 key = bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &key);
	struct mtrack_live v;
	struct mtrack_cpu *c;

	if (kind != MTRACK_MMAP && ours())
		depth(key, 0);
	if (!p || p->kind != kind)
		return 0;
	if (kind == MTRACK_POSIX_MEMALIGN) {
		__u64 got = 0;
		if (addr != 0 || bpf_probe_read_user(&got, sizeof(got), (const void *)p->memptr) < 0)
			got = 0;
		addr = got;
	}
	v.size = p->size;
	v.id = p->id;
	bpf_map_delete_elem(&pending, &key);
	if (addr && bpf_map_update_elem(&live, &addr, &v, BPF_ANY) < 0) {
		c = cpu();
		if (c)
			c->live_full++;
	}
	return 0;
}

static __always_inline int release(__u64 addr)
{
	struct mtrack_cpu *c = cpu();

	if (!c || !ours())
		return 0;
	c->free_calls++;
	if (addr)
		bpf_map_delete_elem(&live, &addr);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(malloc_enter, __u64 size)
{
	return enter(ctx, size, MTRACK_MALLOC, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(malloc_leave, __u64 ret)
{
	return leave(ret, MTRACK_MALLOC);
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, __u64 n, __u64 size)
{
	return enter(ctx, n * size, MTRACK_CALLOC, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(calloc_leave, __u64 ret)
{
	return leave(ret, MTRACK_CALLOC);
}

SEC("uprobe")
int BPF_KPROBE(realloc_enter, __u64 ptr, __u64 size)
{
	release(ptr);
	return enter(ctx, size, MTRACK_REALLOC, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(realloc_leave, __u64 ret)
{
	return leave(ret, MTRACK_REALLOC);
}

SEC("uprobe")
int BPF_KPROBE(reallocarray_enter, __u64 ptr, __u64 n, __u64 size)
{
	release(ptr);
	return enter(ctx, n * size, MTRACK_REALLOC, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(reallocarray_leave, __u64 ret)
{
	return leave(ret, MTRACK_REALLOC);
}

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, __u64 memptr, __u64 align, __u64 size)
{
	return enter(ctx, size, MTRACK_POSIX_MEMALIGN, memptr);
}

SEC("uretprobe")
int BPF_KRETPROBE(posix_memalign_leave, __u64 ret)
{
	return leave(ret, MTRACK_POSIX_MEMALIGN);
}

/* aligned_alloc and memalign: (alignment, size) */
SEC("uprobe")
int BPF_KPROBE(memalign_enter, __u64 align, __u64 size)
{
	return enter(ctx, size, MTRACK_MEMALIGN, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(memalign_leave, __u64 ret)
{
	return leave(ret, MTRACK_MEMALIGN);
}

SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 ptr)
{
	return release(ptr);
}

/*
 * Anonymous mmap: memory a program maps itself. A reservation (PROT_NONE,
 * MAP_NORESERVE: what allocators do to grow arenas later) holds nothing yet;
 * an mmap made inside a sampled allocator call is that call's memory.
 */
SEC("uprobe")
int BPF_KPROBE(mmap_enter, __u64 addr, __u64 len, __u64 prot, __u64 flags, __s64 fd)
{
	if (!(flags & MTRACK_MAP_ANONYMOUS) || (flags & MTRACK_MAP_NORESERVE) || prot == 0)
		return 0;
	return enter(ctx, len, MTRACK_MMAP, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(mmap_leave, __u64 ret)
{
	/* MAP_FAILED is (void *)-1 */
	return leave(ret == ~0ULL ? 0 : ret, MTRACK_MMAP);
}

SEC("uprobe")
int BPF_KPROBE(munmap_enter, __u64 addr, __u64 len)
{
	return release(addr);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
