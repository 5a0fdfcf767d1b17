/* core_maps: which memory an ELF core holds, from smaps and coredump_filter (as the kernel decides). */
#ifndef HOUND_CORE_MAPS_H
#define HOUND_CORE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel's default /proc/PID/coredump_filter. */
#define CORE_FILTER_DEFAULT 0x33u

enum core_dump_rule {
	CORE_DUMP_NONE,     /* a PT_LOAD with no bytes */
	CORE_DUMP_ALL,      /* the whole mapping */
	CORE_DUMP_HEADER,   /* the first page, if it starts with an ELF header */
};

struct core_vma {
	uint64_t start, end, offset;
	char perms[5];
	uint64_t inode;
	char *path;          /* "" for anonymous, "[stack]", "/usr/lib/..." (owned) */
	uint64_t rss, anon;  /* bytes */
	bool dontdump, io, hugetlb, shared;
	enum core_dump_rule rule;
};

/*
 * Parses /proc/PID/smaps text (len bytes) into *out (caller frees with
 * core_maps_free) and decides each mapping's rule with filter (the bits of
 * coredump_filter). Pure. Returns the count or -EINVAL.
 */
long core_maps_parse(const char *text, size_t len, unsigned filter, struct core_vma **out);
void core_maps_free(struct core_vma *v, size_t n);

/* The rule for one mapping (exposed for tests). */
enum core_dump_rule core_maps_rule(const struct core_vma *v, unsigned filter);

/* Resident bytes a core of these mappings holds: its size before compression, at most. */
uint64_t core_maps_estimate(const struct core_vma *v, size_t n);

#endif
