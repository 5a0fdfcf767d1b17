/* Unit tests of the core dump's pure parts: mapping rules, notes, the trampoline's shape. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/syscall.h>

#include "capture/native/core_inject.h"
#include "capture/native/core_maps.h"
#include "capture/native/core_notes.h"
#include "tap.h"

static const char smaps[] =
	"55d0c0000000-55d0c0001000 r--p 00000000 fe:00 123 /usr/bin/app\n"
	"Rss:                   4 kB\n"
	"Anonymous:             0 kB\n"
	"VmFlags: rd mr mw me \n"
	"55d0c0001000-55d0c0002000 r-xp 00001000 fe:00 123 /usr/bin/app\n"
	"Rss:                   4 kB\n"
	"Anonymous:             0 kB\n"
	"VmFlags: rd ex mr mw me \n"
	"55d0c0003000-55d0c0004000 rw-p 00003000 fe:00 123 /usr/bin/app\n"
	"Rss:                   4 kB\n"
	"Anonymous:             4 kB\n"
	"VmFlags: rd wr mr mw me ac \n"
	"7f0000000000-7f0000100000 rw-p 00000000 00:00 0 \n"
	"Rss:                1024 kB\n"
	"Anonymous:          1024 kB\n"
	"VmFlags: rd wr mr mw me ac \n"
	"7f0000100000-7f0000101000 ---p 00000000 00:00 0 \n"
	"Rss:                   0 kB\n"
	"Anonymous:             0 kB\n"
	"VmFlags: mr mw me \n"
	"7f0000200000-7f0000300000 rw-p 00000000 00:00 0 \n"
	"Rss:                1024 kB\n"
	"Anonymous:          1024 kB\n"
	"VmFlags: rd wr mr mw me ac dd \n"
	"7f0000400000-7f0000500000 rw-s 00000000 00:01 77 /dev/zero (deleted)\n"
	"Rss:                  64 kB\n"
	"Anonymous:             0 kB\n"
	"VmFlags: rd wr sh mr mw me ms \n"
	"7f0000600000-7f0000700000 rw-s 00000000 fe:00 99 /var/data/file\n"
	"Rss:                  64 kB\n"
	"Anonymous:             0 kB\n"
	"VmFlags: rd wr sh mr mw me ms \n"
	"7ffd00000000-7ffd00002000 r--p 00000000 00:00 0 [vvar]\n"
	"Rss:                   0 kB\n"
	"Anonymous:             0 kB\n"
	"VmFlags: rd mr pf io de dd \n"
	"7ffd00002000-7ffd00004000 r-xp 00000000 00:00 0 [vdso]\n"
	"Rss:                   8 kB\n"
	"Anonymous:             0 kB\n"
	"VmFlags: rd ex mr mw me de \n";

static void test_maps(void)
{
	struct core_vma *v;
	long n = core_maps_parse(smaps, sizeof(smaps) - 1, CORE_FILTER_DEFAULT, &v);
	is_int(n, 10, "ten mappings parsed");
	if (n != 10)
		return;
	is_int(v[0].rule, CORE_DUMP_HEADER, "first page of a file mapping: header only");
	is_int(v[1].rule, CORE_DUMP_NONE, "clean text: not dumped");
	is_int(v[2].rule, CORE_DUMP_ALL, "written private file pages (.data): dumped");
	is_int(v[3].rule, CORE_DUMP_ALL, "anonymous heap: dumped");
	is_int(v[4].rule, CORE_DUMP_NONE, "untouched guard page: not dumped");
	is_int(v[5].rule, CORE_DUMP_NONE, "MADV_DONTDUMP: not dumped");
	is_int(v[6].rule, CORE_DUMP_ALL, "shared anonymous memory: dumped by default");
	is_int(v[7].rule, CORE_DUMP_NONE, "shared file mapping: not dumped by default");
	is_int(v[8].rule, CORE_DUMP_NONE, "[vvar]: never");
	is_int(v[9].rule, CORE_DUMP_ALL, "[vdso]: always");
	ok(!strcmp(v[7].path, "/var/data/file"), "path kept");
	is_int(core_maps_estimate(v, 10), 4096 + 4096 + 1024 * 1024 + 64 * 1024 + 8192,
	       "estimate: resident bytes of what is dumped");
	is_int(core_maps_rule(&v[7], 0xff), CORE_DUMP_ALL, "filter bit 3 dumps shared file mappings");
	is_int(core_maps_rule(&v[1], 0x37), CORE_DUMP_ALL, "filter bit 2 dumps private file mappings");
	is_int(core_maps_rule(&v[3], 0x32), CORE_DUMP_NONE, "filter without bit 0 skips the heap");
	core_maps_free(v, (size_t)n);
	ok(core_maps_parse("Rss: 4 kB\n", 10, CORE_FILTER_DEFAULT, &v) < 0, "a field before any mapping is refused");
}

static void test_resume(void)
{
	struct user_regs_struct r = {0}, o;
	r.rip = 0x1000;
	r.orig_rax = SYS_futex;
	r.rax = (unsigned long)-512; /* -ERESTARTSYS */
	o = core_tramp_resume_regs(&r);
	is_int(o.rip, 0xffe, "interrupted syscall: back over the syscall instruction");
	is_int(o.rax, SYS_futex, "... with its number again");
	r.rax = (unsigned long)-516;
	o = core_tramp_resume_regs(&r);
	is_int(o.rax, SYS_restart_syscall, "restart_block: restart_syscall");
	r.rax = (unsigned long)-4; /* -EINTR is final */
	o = core_tramp_resume_regs(&r);
	ok(o.rip == 0x1000 && o.rax == (unsigned long)-4, "a finished syscall is left alone");
	r.orig_rax = (unsigned long)-1;
	r.rax = (unsigned long)-512;
	o = core_tramp_resume_regs(&r);
	ok(o.rip == 0x1000, "not in a syscall: no restart");
}

static void test_tramp(void)
{
	struct core_tramp_args a = {.clone_flags = 0x8000 | 17, .bound_s = 10, .sigmask = 0x1234};
	uint8_t buf[CORE_TRAMP_MAX];
	a.resume.rip = 0x7f0011223344;
	a.resume.rsp = 0x7ffe00001000;
	ssize_t n = core_tramp_build(buf, sizeof(buf), 0x7f0000001000, &a);
	ok(n > 0 && n <= CORE_TRAMP_MAX, "trampoline fits (%zd bytes)", n);
	if (n <= 0)
		return;
	uint64_t rip, mask, secs;
	memcpy(&rip, buf + n - 8, 8);
	memcpy(&secs, buf + n - 24, 8);
	memcpy(&mask, buf + n - 32, 8);
	is_int(rip, 0x7f0011223344, "jumps back to the thread's rip");
	is_int(secs, 10, "the child's bound");
	is_int(mask, 0x1234, "restores the thread's mask");
	int syscalls = 0;
	for (ssize_t i = 0; i + 1 < n - 40; i++)
		if (buf[i] == 0x0f && buf[i + 1] == 0x05)
			syscalls++;
	ok(syscalls >= 6, "six system calls (mask, clone, mask; close_range, nanosleep, exit_group)");
	ok(core_tramp_build(buf, 64, 0, &a) == -ENOSPC, "a small buffer is refused");
}

static void test_notes(void)
{
	struct core_thread t[2];
	struct core_snap s = {.pid = 10, .threads = t, .nthreads = 2};
	struct core_proc_info pi = {.pid = 10, .ppid = 1, .signo = SIGSTOP, .fname = "app"};
	struct core_file_map f = {0x1000, 0x2000, 0, "/usr/bin/app"};
	struct util_buf b = {0};
	uint64_t auxv[4] = {AT_PAGESZ, 4096, AT_NULL, 0};

	memset(t, 0, sizeof(t));
	t[0].tid = 11;
	t[1].tid = 10;
	t[1].regs.rip = 0xabc;
	core_notes_build(&b, &s, &pi, auxv, sizeof(auxv), &f, 1);
	unsigned types[16];
	size_t nt = 0;
	for (size_t off = 0; off + sizeof(Elf64_Nhdr) <= b.len && nt < 16;) {
		Elf64_Nhdr h;
		memcpy(&h, b.p + off, sizeof(h));
		if (nt == 0) {
			struct elf_prstatus ps;
			memcpy(&ps, b.p + off + sizeof(h) + 8, sizeof(ps));
			is_int(ps.pr_pid, 10, "the main thread comes first");
			is_int(ps.pr_reg[16], 0xabc, "with its rip");
		}
		types[nt++] = h.n_type;
		off += sizeof(h) + ((h.n_namesz + 3) & ~3u) + ((h.n_descsz + 3) & ~3u);
	}
	is_int(nt, 8, "eight notes");
	unsigned want[] = {NT_PRSTATUS, NT_PRPSINFO, NT_SIGINFO, NT_AUXV, NT_FILE, NT_FPREGSET, NT_PRSTATUS,
			   NT_FPREGSET};
	ok(nt == 8 && !memcmp(types, want, sizeof(want)), "kernel order: process notes after the first PRSTATUS");
	free(b.p);
}

int main(void)
{
	test_maps();
	test_resume();
	test_tramp();
	test_notes();
	done_testing();
}
