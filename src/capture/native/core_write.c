/* core_write: an ELF core's bytes (header, program headers, notes, memory) streamed to a core_out. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "capture/native/core_write.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096u
#define CHUNK (1u << 20)

static uint64_t filesz_of(const struct core_vma *v)
{
	switch (v->rule) {
	case CORE_DUMP_ALL:
		return v->end - v->start;
	case CORE_DUMP_HEADER:
		return PAGE;
	default:
		return 0;
	}
}

/* A mapping's first page becomes part of the core only when it is an ELF header (build-id notes). */
static void check_headers(int mem, struct core_vma *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char m[SELFMAG];
		if (v[i].rule == CORE_DUMP_HEADER &&
		    (pread(mem, m, sizeof(m), (off_t)v[i].start) != (ssize_t)sizeof(m) || memcmp(m, ELFMAG, SELFMAG)))
			v[i].rule = CORE_DUMP_NONE;
	}
}

static int put(core_out *o, const void *p, size_t len, char *err, size_t errlen)
{
	int rc = core_out_write(o, p, len);
	if (rc == -EFBIG)
		return util_err(err, errlen, rc, "the core outgrew the disk budget while being written");
	if (rc < 0)
		return util_err(err, errlen, rc, "writing the core: %s", strerror(-rc));
	return 0;
}

/* Puts back the bytes hound changed in the target, where a chunk covers them. */
static void unpatch(const struct core_patch *p, uint64_t addr, uint8_t *buf, size_t len)
{
	uint64_t lo = p->addr > addr ? p->addr : addr;
	uint64_t hi = p->addr + p->len < addr + len ? p->addr + p->len : addr + len;
	if (p->len && lo < hi)
		memcpy(buf + (lo - addr), p->orig + (lo - p->addr), (size_t)(hi - lo));
}

/* Reads [addr, addr+len) from mem; pages that cannot be read become zeros. */
static void read_range(int mem, uint64_t addr, uint8_t *buf, size_t len, struct core_write_stats *st)
{
	ssize_t r = pread(mem, buf, len, (off_t)addr);
	if (r == (ssize_t)len)
		return;
	for (size_t off = 0; off < len; off += PAGE) {
		size_t l = len - off < PAGE ? len - off : PAGE;
		if (pread(mem, buf + off, l, (off_t)(addr + off)) != (ssize_t)l) {
			memset(buf + off, 0, l);
			st->unreadable += l;
		}
	}
}

static int write_headers(core_out *o, struct core_vma *v, size_t n, const struct util_buf *notes,
			 char *err, size_t errlen)
{
	size_t nph = 1 + n;
	uint64_t off = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int rc;

	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = nph < PN_XNUM ? (Elf64_Half)nph : PN_XNUM;
	if ((rc = put(o, &eh, sizeof(eh), err, errlen)) < 0)
		return rc;
	memset(&ph, 0, sizeof(ph));
	ph.p_type = PT_NOTE;
	ph.p_offset = off;
	ph.p_filesz = notes->len;
	if ((rc = put(o, &ph, sizeof(ph), err, errlen)) < 0)
		return rc;
	off = (off + notes->len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	for (size_t i = 0; i < n; i++) {
		memset(&ph, 0, sizeof(ph));
		ph.p_type = PT_LOAD;
		ph.p_offset = off;
		ph.p_vaddr = v[i].start;
		ph.p_filesz = filesz_of(&v[i]);
		ph.p_memsz = v[i].end - v[i].start;
		ph.p_align = PAGE;
		ph.p_flags = (v[i].perms[0] == 'r' ? PF_R : 0) | (v[i].perms[1] == 'w' ? PF_W : 0) |
			     (v[i].perms[2] == 'x' ? PF_X : 0);
		off += ph.p_filesz;
		if ((rc = put(o, &ph, sizeof(ph), err, errlen)) < 0)
			return rc;
	}
	return 0;
}

int core_write_elf(core_out *o, const struct core_snap *s, struct core_vma *v, size_t n,
		   const struct util_buf *notes, volatile sig_atomic_t *stop, struct core_write_stats *st,
		   char *err, size_t errlen)
{
	char path[64];
	uint8_t *buf = NULL;
	int mem, rc;

	memset(st, 0, sizeof(*st));
	if (n + 1 >= PN_XNUM)
		return util_err(err, errlen, -E2BIG, "%zu mappings: too many for an ELF core", n);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)s->src);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (mem < 0)
		return util_err(err, errlen, -errno, "open(%s): %s", path, strerror(errno));
	check_headers(mem, v, n);
	rc = write_headers(o, v, n, notes, err, errlen);
	if (rc < 0)
		goto out;
	if ((rc = put(o, notes->p, notes->len, err, errlen)) < 0)
		goto out;
	buf = xcalloc(1, CHUNK);
	uint64_t at = sizeof(Elf64_Ehdr) + (1 + n) * sizeof(Elf64_Phdr) + notes->len;
	uint64_t pad = ((at + PAGE - 1) & ~(uint64_t)(PAGE - 1)) - at;
	if (pad && (rc = put(o, buf, (size_t)pad, err, errlen)) < 0)
		goto out;
	st->nloads = n;
	for (size_t i = 0; i < n; i++) {
		uint64_t len = filesz_of(&v[i]);
		for (uint64_t off = 0; off < len; off += CHUNK) {
			size_t l = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
			if (stop && *stop) {
				rc = util_err(err, errlen, -ECANCELED, "core dump cancelled: agent shutting down");
				goto out;
			}
			read_range(mem, v[i].start + off, buf, l, st);
			unpatch(&s->patch, v[i].start + off, buf, l);
			if ((rc = put(o, buf, l, err, errlen)) < 0)
				goto out;
			st->mem_bytes += l;
		}
	}
	rc = 0;
out:
	free(buf);
	close(mem);
	return rc;
}
