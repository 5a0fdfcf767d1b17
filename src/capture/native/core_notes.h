/* core_notes: the PT_NOTE segment of an ELF core (threads' registers, process info, auxv, files). */
#ifndef HOUND_CORE_NOTES_H
#define HOUND_CORE_NOTES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture/native/core_snap.h"
#include "lib/util.h"

/* A file mapping for NT_FILE. */
struct core_file_map {
	uint64_t start, end, pgoff; /* pgoff in pages */
	const char *path;
};

/* Process-wide facts for NT_PRPSINFO and the first thread's NT_PRSTATUS. */
struct core_proc_info {
	pid_t pid, ppid, pgrp, sid;
	uid_t uid;
	gid_t gid;
	int nice;
	char state;                 /* R, S, D ... */
	char fname[16];             /* comm */
	char psargs[80];            /* the command line, spaces for NULs */
	int signo;                  /* the "signal" the core is taken with */
	pid_t sender;               /* who sent it (hound) */
};

/*
 * Appends the notes to out: per thread NT_PRSTATUS, NT_FPREGSET and
 * NT_X86_XSTATE (the first thread also carries NT_PRPSINFO, NT_SIGINFO,
 * NT_AUXV and NT_FILE after its NT_PRSTATUS, as the kernel orders them).
 * Pure: everything comes from the arguments. The first thread is the one
 * whose tid equals pi->pid when present.
 */
void core_notes_build(struct util_buf *out, const struct core_snap *s, const struct core_proc_info *pi,
		      const void *auxv, size_t auxv_len, const struct core_file_map *files, size_t nfiles);

#endif
