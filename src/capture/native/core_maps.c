/* core_maps: which memory an ELF core holds, from smaps and coredump_filter (as the kernel decides). */
#include "capture/native/core_maps.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* coredump_filter bits (see core(5)). */
enum {
	F_ANON_PRIVATE = 1u << 0,
	F_ANON_SHARED = 1u << 1,
	F_MAPPED_PRIVATE = 1u << 2,
	F_MAPPED_SHARED = 1u << 3,
	F_ELF_HEADERS = 1u << 4,
	F_HUGETLB_PRIVATE = 1u << 5,
	F_HUGETLB_SHARED = 1u << 6,
};

/* Follows the kernel's vma_dump_size() with what smaps shows of a mapping. */
enum core_dump_rule core_maps_rule(const struct core_vma *v, unsigned filter)
{
	bool file = v->path[0] == '/';
	bool deleted_shm = strstr(v->path, "(deleted)") && (!strncmp(v->path, "/dev/zero", 9) ||
							     !strncmp(v->path, "/SYSV", 5) ||
							     !strncmp(v->path, "/memfd:", 7));

	if (!strcmp(v->path, "[vdso]"))
		return CORE_DUMP_ALL; /* the kernel always dumps it; debuggers unwind through it */
	if (v->dontdump || v->io || !strcmp(v->path, "[vvar]") || !strcmp(v->path, "[vsyscall]"))
		return CORE_DUMP_NONE;
	if (v->hugetlb) {
		unsigned bit = v->shared ? F_HUGETLB_SHARED : F_HUGETLB_PRIVATE;
		return (filter & bit) ? CORE_DUMP_ALL : CORE_DUMP_NONE;
	}
	if (v->shared) {
		/* Shared memory with no name on disk (shmem, memfd) counts as anonymous. */
		unsigned bit = (!file || deleted_shm || !strncmp(v->path, "/memfd:", 7)) ? F_ANON_SHARED
											   : F_MAPPED_SHARED;
		return (filter & bit) ? CORE_DUMP_ALL : CORE_DUMP_NONE;
	}
	/* Written private pages (anon_vma in the kernel; Anonymous > 0 here). */
	if ((v->anon > 0 || (!file && v->rss > 0)) && (filter & F_ANON_PRIVATE))
		return CORE_DUMP_ALL;
	if (!file)
		return CORE_DUMP_NONE;
	if (filter & F_MAPPED_PRIVATE)
		return CORE_DUMP_ALL;
	if ((filter & F_ELF_HEADERS) && v->offset == 0 && v->perms[0] == 'r')
		return CORE_DUMP_HEADER;
	return CORE_DUMP_NONE;
}

void core_maps_free(struct core_vma *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

static bool has_flag(const char *flags, const char *f)
{
	for (const char *p = flags; (p = strstr(p, f)); p += 2)
		if ((p == flags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\0' || p[2] == '\n'))
			return true;
	return false;
}

long core_maps_parse(const char *text, size_t len, unsigned filter, struct core_vma **out)
{
	struct core_vma *v = NULL, *cur = NULL;
	size_t n = 0, cap = 0;
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[4352];
		if (ll >= sizeof(line))
			ll = sizeof(line) - 1;
		memcpy(line, p, ll);
		line[ll] = '\0';
		p = nl ? nl + 1 : end;

		uint64_t s, e, off, ino;
		char perms[8];
		int pathat = 0;
		unsigned long long kb;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*x:%*x %" SCNu64 " %n", &s, &e, perms,
			   &off, &ino, &pathat) == 5 && strlen(perms) == 4) {
			if (n == cap)
				v = xrealloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
			cur = &v[n++];
			memset(cur, 0, sizeof(*cur));
			cur->start = s;
			cur->end = e;
			cur->offset = off;
			cur->inode = ino;
			memcpy(cur->perms, perms, 5);
			cur->shared = perms[3] == 's';
			cur->path = xstrdup(line + pathat);
			continue;
		}
		if (!cur)
			goto bad;
		if (sscanf(line, "Rss: %llu kB", &kb) == 1)
			cur->rss = kb * 1024;
		else if (sscanf(line, "Anonymous: %llu kB", &kb) == 1)
			cur->anon = kb * 1024;
		else if (!strncmp(line, "VmFlags:", 8)) {
			cur->dontdump = has_flag(line + 8, "dd");
			cur->io = has_flag(line + 8, "io") || has_flag(line + 8, "pf");
			cur->hugetlb = has_flag(line + 8, "ht");
		}
	}
	for (size_t i = 0; i < n; i++)
		v[i].rule = core_maps_rule(&v[i], filter);
	*out = v;
	return (long)n;
bad:
	core_maps_free(v, n);
	*out = NULL;
	return -EINVAL;
}

uint64_t core_maps_estimate(const struct core_vma *v, size_t n)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].rule == CORE_DUMP_ALL)
			total += v[i].rss;
		else if (v[i].rule == CORE_DUMP_HEADER)
			total += 4096;
	}
	return total;
}
