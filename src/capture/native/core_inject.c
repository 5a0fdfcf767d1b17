/* core_inject: the code hound places in a target to fork a snapshot child, and where it goes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "capture/native/core_inject.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/util.h"

/* x86-64 register numbers as the instruction encoding uses them. */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

/* Room left below the saved rsp: the red zone (128) and one slot for the flags. */
#define BELOW_SP 136

struct emit {
	uint8_t *p;
	size_t n, cap;
	bool full;
};

static void byte(struct emit *e, uint8_t b)
{
	if (e->n < e->cap)
		e->p[e->n] = b;
	else
		e->full = true;
	e->n++;
}

static void u32le(struct emit *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		byte(e, (uint8_t)(v >> (8 * i)));
}

static void u64le(struct emit *e, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		byte(e, (uint8_t)(v >> (8 * i)));
}

/*
 * mov reg, imm: `mov r32, imm32` (zero-extends) when the value fits, else
 * movabs. Neither changes a flag, so they can run after popfq.
 */
static void mov_imm(struct emit *e, int reg, uint64_t v)
{
	if (v <= 0xffffffffu) {
		if (reg >= 8)
			byte(e, 0x41);
		byte(e, (uint8_t)(0xb8 + (reg & 7)));
		u32le(e, (uint32_t)v);
		return;
	}
	byte(e, (uint8_t)(0x48 | (reg >= 8 ? 1 : 0)));
	byte(e, (uint8_t)(0xb8 + (reg & 7)));
	u64le(e, v);
}

/* lea reg, [rip + (target - end of instruction)] */
static void lea_rip(struct emit *e, int reg, size_t target)
{
	byte(e, (uint8_t)(0x48 | (reg >= 8 ? 4 : 0)));
	byte(e, 0x8d);
	byte(e, (uint8_t)(0x05 | ((reg & 7) << 3)));
	u32le(e, (uint32_t)((int64_t)target - (int64_t)(e->n + 4)));
}

static void sys(struct emit *e)
{
	byte(e, 0x0f);
	byte(e, 0x05);
}

/* A 6-argument system call with immediate arguments (pointers passed by lea before). */
static void call(struct emit *e, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	mov_imm(e, RAX, (uint64_t)nr);
	mov_imm(e, RDI, a0);
	mov_imm(e, RSI, a1);
	mov_imm(e, RDX, a2);
	mov_imm(e, R10, a3);
}

/* The data after the code: fixed offsets from the end of the code. */
struct layout {
	size_t allmask, origmask, ts, rip, child, end;
};

static void emit_all(struct emit *e, const struct core_tramp_args *a, const struct layout *L)
{
	const struct user_regs_struct *r = &a->resume;
	size_t jz_at;

	/* 1. Block everything so the child is born with every signal blocked. */
	call(e, SYS_rt_sigprocmask, 2 /* SIG_SETMASK */, 0, 0, 8);
	lea_rip(e, RSI, L->allmask);
	sys(e);
	/* 2. clone(flags, stack 0 = same stack, no tids, no tls). */
	call(e, SYS_clone, a->clone_flags, 0, 0, 0);
	mov_imm(e, R8, 0);
	sys(e);
	/* test rax, rax; jz child */
	byte(e, 0x48), byte(e, 0x85), byte(e, 0xc0);
	byte(e, 0x0f), byte(e, 0x84);
	jz_at = e->n;
	u32le(e, (uint32_t)((int64_t)L->child - (int64_t)(jz_at + 4)));
	/* 3. Parent: the thread's own mask again. */
	call(e, SYS_rt_sigprocmask, 2, 0, 0, 8);
	lea_rip(e, RSI, L->origmask);
	sys(e);
	/* 4. Flags through a slot below the red zone, then every register, then jump back. */
	mov_imm(e, RSP, r->rsp - BELOW_SP);
	mov_imm(e, RAX, r->eflags);
	byte(e, 0x50);                 /* push rax */
	byte(e, 0x9d);                 /* popfq */
	mov_imm(e, RAX, r->rax);
	mov_imm(e, RCX, r->rcx);
	mov_imm(e, RDX, r->rdx);
	mov_imm(e, RBX, r->rbx);
	mov_imm(e, RBP, r->rbp);
	mov_imm(e, RSI, r->rsi);
	mov_imm(e, RDI, r->rdi);
	mov_imm(e, R8, r->r8);
	mov_imm(e, R9, r->r9);
	mov_imm(e, R10, r->r10);
	mov_imm(e, R11, r->r11);
	mov_imm(e, R12, r->r12);
	mov_imm(e, R13, r->r13);
	mov_imm(e, R14, r->r14);
	mov_imm(e, R15, r->r15);
	/* lea rsp, [rsp + BELOW_SP] (lea leaves the flags alone) */
	byte(e, 0x48), byte(e, 0x8d), byte(e, 0xa4), byte(e, 0x24);
	u32le(e, BELOW_SP);
	/* jmp qword [rip + rip slot] */
	byte(e, 0xff), byte(e, 0x25);
	u32le(e, (uint32_t)((int64_t)L->rip - (int64_t)(e->n + 4)));
}

static void emit_child(struct emit *e, const struct core_tramp_args *a, const struct layout *L)
{
	size_t exit_at;

	(void)a;
	/* close_range(0, ~0U, 0): the child must not keep the service's sockets open. */
	call(e, 436 /* SYS_close_range */, 0, 0xffffffffu, 0, 0);
	sys(e);
	call(e, SYS_nanosleep, 0, 0, 0, 0);
	lea_rip(e, RDI, L->ts);
	sys(e);
	exit_at = e->n;
	call(e, SYS_exit_group, 0, 0, 0, 0);
	sys(e);
	/* Unreachable; loop on exit_group rather than fall through. */
	byte(e, 0xe9);
	u32le(e, (uint32_t)((int64_t)exit_at - (int64_t)(e->n + 4)));
}

static void emit_data(struct emit *e, const struct core_tramp_args *a, const struct layout *L)
{
	while (e->n < L->allmask)
		byte(e, 0xcc);
	u64le(e, ~(uint64_t)0);
	u64le(e, a->sigmask);
	u64le(e, a->bound_s);  /* struct timespec: seconds */
	u64le(e, 0);           /* nanoseconds */
	u64le(e, a->resume.rip);
}

ssize_t core_tramp_build(uint8_t *buf, size_t cap, uint64_t at, const struct core_tramp_args *a)
{
	struct layout L = {0};
	struct emit e;

	(void)at; /* everything is rip-relative: the code runs at any address */
	/* Pass 1 measures (nothing written), pass 2 writes with the offsets known. */
	uint8_t scratch[1];
	e = (struct emit){scratch, 0, 0, false};
	emit_all(&e, a, &L);
	L.child = e.n;
	emit_child(&e, a, &L);
	L.allmask = (e.n + 7) & ~(size_t)7;
	L.origmask = L.allmask + 8;
	L.ts = L.origmask + 8;
	L.rip = L.ts + 16;
	L.end = L.rip + 8;
	if (L.end > cap)
		return -ENOSPC;
	e = (struct emit){buf, 0, cap, false};
	emit_all(&e, a, &L);
	if (e.n != L.child)
		return -EINVAL;
	emit_child(&e, a, &L);
	emit_data(&e, a, &L);
	return e.full ? -ENOSPC : (ssize_t)e.n;
}

struct user_regs_struct core_tramp_resume_regs(const struct user_regs_struct *r)
{
	struct user_regs_struct o = *r;
	long rax = (long)r->rax, nr = (long)r->orig_rax;

	/* -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND: no handler ran, so restart. */
	if (nr >= 0 && (rax == -512 || rax == -513 || rax == -514)) {
		o.rax = (unsigned long)nr;
		o.rip -= 2;
	} else if (nr >= 0 && rax == -516) { /* -ERESTART_RESTARTBLOCK */
		o.rax = SYS_restart_syscall;
		o.rip -= 2;
	}
	o.orig_rax = (unsigned long)-1;
	return o;
}

/* The hole of one executable mapping [start,end) at file offset off. */
static size_t hole_of(int fd, uint64_t start, uint64_t end, uint64_t off, uint64_t *addr)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	long pg = sysconf(_SC_PAGESIZE);

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph))
		return 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
			return 0;
		if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
		    (ph.p_offset & ~(uint64_t)(pg - 1)) != off || ph.p_filesz != ph.p_memsz)
			continue;
		uint64_t bias = start - (ph.p_vaddr & ~(uint64_t)(pg - 1));
		uint64_t h = bias + ph.p_vaddr + ph.p_memsz;
		uint64_t hend = (h + (uint64_t)pg - 1) & ~(uint64_t)(pg - 1);
		if (h <= start || hend > end || hend == h)
			return 0;
		*addr = h;
		return (size_t)(hend - h);
	}
	return 0;
}

int core_hole_find(pid_t pid, size_t need, struct core_hole *out)
{
	char path[64], *maps = NULL, *line, *save = NULL;
	int rc = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	rc = util_read_file(path, &maps, NULL, 64u << 20);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	memset(out, 0, sizeof(*out));
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint64_t s, e, off, addr = 0;
		char perms[8], file[4096] = "";
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*u %4095[^\n]", &s, &e, perms,
			   &off, file) < 4 || strcmp(perms, "r-xp") || file[0] != '/')
			continue;
		char mf[128];
		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, s, e);
		int fd = open(mf, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		size_t len = hole_of(fd, s, e, off, &addr);
		close(fd);
		if (len >= need && len > out->len) {
			out->addr = addr;
			out->len = len;
			/* a longer path is only shown shortened in the manifest */
			size_t fl = strnlen(file, sizeof(out->file) - 1);
			memcpy(out->file, file, fl);
			out->file[fl] = '\0';
			rc = 0;
		}
	}
	free(maps);
	return rc;
}
