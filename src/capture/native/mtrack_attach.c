/* mtrack_attach: finds the allocator a process really uses and attaches the malloc probes to it. */
#include "capture/native/mtrack_attach.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/native/symbolize.h"
#include "lib/util.h"

bool mtrack_attach_candidate(const char *path, const char *exe)
{
	size_t n;

	UNUSED(exe);
	if (!path || path[0] != '/')
		return false;
	n = strlen(path);
	return !(n > 10 && strcmp(path + n - 10, " (deleted)") == 0);
}

#define MAX_FUNCS 16

/* The file offset of virtual address v: inside the PT_LOAD segment that maps it. */
static uint64_t vaddr_to_offset(Elf *e, size_t phnum, uint64_t v)
{
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && v >= ph.p_vaddr &&
		    v < ph.p_vaddr + ph.p_memsz)
			return v - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

/* Whether a symbol name is func, ignoring a version suffix ("malloc@@GLIBC_2.2.5"). */
static bool name_is(const char *name, const char *func)
{
	size_t n = strlen(func);

	return strncmp(name, func, n) == 0 && (name[n] == 0 || name[n] == '@');
}

/*
 * Fills offs[i] with the file offset of allocator function i (mtrack_bpf_func)
 * when the ELF file defines it as a function (.symtab or .dynsym), else 0.
 */
static void find_funcs(int fd, uint64_t *offs)
{
	Elf *e;
	Elf_Scn *scn = NULL;
	size_t phnum;

	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e)
		return;
	if (elf_getphdrnum(e, &phnum) != 0)
		phnum = 0;
	while ((scn = elf_nextscn(e, scn)) != NULL) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
		    sh.sh_entsize == 0 || (d = elf_getdata(scn, NULL)) == NULL)
			continue;
		for (size_t k = 0; k < sh.sh_size / sh.sh_entsize; k++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)k, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
				continue;
			name = elf_strptr(e, sh.sh_link, sym.st_name);
			if (!name)
				continue;
			for (size_t i = 0; i < MAX_FUNCS && mtrack_bpf_func(i); i++)
				if (!offs[i] && name_is(name, mtrack_bpf_func(i)))
					offs[i] = vaddr_to_offset(e, phnum, sym.st_value);
		}
	}
	elf_end(e);
}

/*
 * Attaches every allocator function the file at path defines. Returns the
 * number attached (0 when it defines no malloc: its other functions are
 * not the allocator's), or -errno.
 */
static int attach_file(mtrack_bpf *m, const char *path, char *err, size_t errlen)
{
	uint64_t offs[MAX_FUNCS] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0, rc;

	if (fd < 0)
		return 0; /* gone or deleted since it was mapped: nothing to probe there */
	find_funcs(fd, offs);
	close(fd);
	if (!offs[0]) /* mtrack_bpf_func(0) is malloc */
		return 0;
	for (size_t i = 0; i < MAX_FUNCS && mtrack_bpf_func(i); i++) {
		if (!offs[i])
			continue;
		rc = mtrack_bpf_attach(m, path, mtrack_bpf_func(i), offs[i], err, errlen);
		if (rc < 0)
			return rc;
		n++;
	}
	return n;
}

/* Appends ", name" (or "name") to mods, the basename of path. */
static void add_module(char *mods, size_t len, const char *path)
{
	size_t used = strlen(mods);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	if (used < len)
		snprintf(mods + used, len - used, "%s%s", used ? ", " : "", base);
}

int mtrack_attach_process(mtrack_bpf *m, pid_t pid, char *mods, size_t modslen, char *err,
			  size_t errlen)
{
	char path[64], root_path[PATH_MAX];
	char *buf = NULL, *exe = util_read_proc_exe(pid);
	struct sym_map *maps = NULL;
	size_t len = 0, nmaps = 0;
	int total = 0, rc;

	mods[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	rc = util_read_file(path, &buf, &len, 64u << 20);
	if (rc < 0) {
		free(exe);
		return util_err(err, errlen, rc, "read(%s): %s", path, strerror(-rc));
	}
	rc = sym_parse_maps(buf, len, &maps, &nmaps);
	free(buf);
	if (rc < 0) {
		free(exe);
		return util_err(err, errlen, rc, "parse %s: %s", path, strerror(-rc));
	}
	for (size_t i = 0; i < nmaps; i++) {
		const struct sym_map *s = &maps[i];
		bool seen = false;

		if (s->perms[2] != 'x' || !mtrack_attach_candidate(s->path, exe))
			continue;
		/* a file maps several segments: attach once */
		for (size_t j = 0; j < i && !seen; j++)
			seen = maps[j].perms[2] == 'x' && strcmp(maps[j].path, s->path) == 0;
		if (seen)
			continue;
		if (!util_snprintf(root_path, sizeof(root_path), "/proc/%d/root%s", (int)pid,
				   s->path))
			continue;
		rc = attach_file(m, root_path, err, errlen);
		if (rc < 0)
			break;
		if (rc > 0)
			add_module(mods, modslen, s->path);
		total += rc;
	}
	sym_maps_free(maps, nmaps);
	free(exe);
	if (rc < 0)
		return rc;
	if (total == 0)
		return util_err(err, errlen, -ENOENT,
				"pid %d maps no file that defines malloc (a statically linked "
				"program without symbols?)",
				(int)pid);
	return total;
}
