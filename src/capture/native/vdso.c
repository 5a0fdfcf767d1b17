/* vdso: the kernel's vDSO as mapped into hound itself (see vdso.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "capture/native/vdso.h"

#include "lib/util.h"

#include <elf.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct vdso_image img;
static bool have;
static int fd = -1;

/* The [vdso] line of /proc/self/maps: the size of the mapping at addr. */
static size_t mapping_size(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	size_t size = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		uint64_t start, limit;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &start, &limit) == 2 && start == addr &&
		    strstr(line, "[vdso]")) {
			size = (size_t)(limit - start);
			break;
		}
	}
	fclose(f);
	return size;
}

static void init(void)
{
	uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	if (!base)
		return;
	size_t size = mapping_size(base);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size)
		return;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
			img.load_vaddr = ph[i].p_vaddr;
			img.data = (const uint8_t *)base;
			img.size = size;
			have = true;
			break;
		}
	}
	if (!have)
		return;
	/* A copy in a memfd: libdw reads modules from file descriptors. */
	fd = memfd_create("hound-vdso", MFD_CLOEXEC);
	if (fd >= 0 && (write(fd, img.data, img.size) != (ssize_t)img.size ||
			lseek(fd, 0, SEEK_SET) != 0)) {
		close(fd);
		fd = -1;
	}
}

const struct vdso_image *vdso_self(void)
{
	pthread_once(&once, init);
	return have ? &img : NULL;
}

bool vdso_is_same(const char *path, uint64_t start, uint64_t limit)
{
	const struct vdso_image *v = vdso_self();
	return v && strcmp(path, "[vdso]") == 0 && limit - start == v->size;
}

bool vdso_find(int pid, uint64_t *start, uint64_t *limit)
{
	char path[96], line[512];
	bool found = false;
	if (!vdso_self())
		return false;
	util_proc_live_path(pid, "maps", path, sizeof(path));
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		uint64_t s, l;
		if (strstr(line, "[vdso]") && sscanf(line, "%" SCNx64 "-%" SCNx64, &s, &l) == 2 &&
		    vdso_is_same("[vdso]", s, l)) {
			*start = s;
			*limit = l;
			found = true;
		}
	}
	fclose(f);
	return found;
}

int vdso_fd(void)
{
	pthread_once(&once, init);
	return fd;
}
