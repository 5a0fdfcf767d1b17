/* core_notes: the PT_NOTE segment of an ELF core (threads' registers, process info, auxv, files). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "capture/native/core_notes.h"

#include <elf.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>

static void pad4(struct util_buf *b)
{
	static const char zero[4];
	if (b->len % 4)
		util_buf_add(b, zero, 4 - b->len % 4);
}

/* One note: header, name and descriptor, each padded to 4 bytes as the ELF spec asks. */
static void note(struct util_buf *b, const char *name, uint32_t type, const void *desc, size_t len)
{
	Elf64_Nhdr h = {.n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = (uint32_t)len, .n_type = type};
	util_buf_add(b, (const char *)&h, sizeof(h));
	util_buf_add(b, name, h.n_namesz);
	pad4(b);
	if (len)
		util_buf_add(b, desc, len);
	pad4(b);
}

static void prstatus(struct util_buf *b, const struct core_thread *t, const struct core_proc_info *pi,
		     bool first)
{
	struct elf_prstatus ps;
	memset(&ps, 0, sizeof(ps));
	if (first) {
		ps.pr_info.si_signo = pi->signo;
		ps.pr_cursig = (short)pi->signo;
	}
	ps.pr_sighold = t->sigmask;
	ps.pr_pid = t->tid;
	ps.pr_ppid = pi->ppid;
	ps.pr_pgrp = pi->pgrp;
	ps.pr_sid = pi->sid;
	memcpy(&ps.pr_reg, &t->regs, sizeof(ps.pr_reg) < sizeof(t->regs) ? sizeof(ps.pr_reg) : sizeof(t->regs));
	ps.pr_fpvalid = 1;
	note(b, "CORE", NT_PRSTATUS, &ps, sizeof(ps));
}

static void prpsinfo(struct util_buf *b, const struct core_proc_info *pi)
{
	struct elf_prpsinfo p;
	static const char states[] = "RSDTZW";
	const char *at = strchr(states, pi->state);

	memset(&p, 0, sizeof(p));
	p.pr_state = (char)(at && pi->state ? at - states : 0);
	p.pr_sname = pi->state ? pi->state : 'R';
	p.pr_zomb = pi->state == 'Z';
	p.pr_nice = (char)pi->nice;
	p.pr_uid = pi->uid;
	p.pr_gid = pi->gid;
	p.pr_pid = pi->pid;
	p.pr_ppid = pi->ppid;
	p.pr_pgrp = pi->pgrp;
	p.pr_sid = pi->sid;
	memcpy(p.pr_fname, pi->fname, sizeof(p.pr_fname));
	memcpy(p.pr_psargs, pi->psargs, sizeof(p.pr_psargs));
	note(b, "CORE", NT_PRPSINFO, &p, sizeof(p));
}

static void siginfo(struct util_buf *b, const struct core_proc_info *pi)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = pi->signo;
	si.si_code = SI_USER;
	si.si_pid = pi->sender;
	note(b, "CORE", NT_SIGINFO, &si, sizeof(si));
}

/* NT_FILE: count, page size, (start, end, offset in pages) per file, then the names. */
static void files_note(struct util_buf *b, const struct core_file_map *f, size_t n)
{
	struct util_buf d = {0};
	uint64_t hdr[2] = {n, 4096};

	util_buf_add(&d, (const char *)hdr, sizeof(hdr));
	for (size_t i = 0; i < n; i++) {
		uint64_t e[3] = {f[i].start, f[i].end, f[i].pgoff};
		util_buf_add(&d, (const char *)e, sizeof(e));
	}
	for (size_t i = 0; i < n; i++)
		util_buf_add(&d, f[i].path, strlen(f[i].path) + 1);
	note(b, "CORE", NT_FILE, d.p, d.len);
	free(d.p);
}

static void thread_notes(struct util_buf *b, const struct core_thread *t, const struct core_proc_info *pi,
			 bool first, const void *auxv, size_t auxv_len, const struct core_file_map *files,
			 size_t nfiles)
{
	prstatus(b, t, pi, first);
	if (first) {
		prpsinfo(b, pi);
		siginfo(b, pi);
		if (auxv_len)
			note(b, "CORE", NT_AUXV, auxv, auxv_len);
		files_note(b, files, nfiles);
	}
	note(b, "CORE", NT_FPREGSET, &t->fpregs, sizeof(t->fpregs));
	if (t->xstate_len)
		note(b, "LINUX", NT_X86_XSTATE, t->xstate, t->xstate_len);
}

void core_notes_build(struct util_buf *out, const struct core_snap *s, const struct core_proc_info *pi,
		      const void *auxv, size_t auxv_len, const struct core_file_map *files, size_t nfiles)
{
	size_t first = 0;
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].tid == pi->pid)
			first = i;
	if (s->nthreads)
		thread_notes(out, &s->threads[first], pi, true, auxv, auxv_len, files, nfiles);
	for (size_t i = 0; i < s->nthreads; i++)
		if (i != first)
			thread_notes(out, &s->threads[i], pi, false, NULL, 0, NULL, 0);
}
