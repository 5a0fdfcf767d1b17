/* ehframe: reading an in-memory 64-bit ELF image as it is laid out in a file. */
#ifndef HOUND_EHFRAME_H
#define HOUND_EHFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The .eh_frame_hdr binary-search table, at link-time addresses. */
struct eh_table {
	uint64_t hdr_vaddr, table_vaddr, fde_count;
};

/*
 * Copies n bytes at link-time address vaddr out of the PT_LOAD file data of
 * an ELF image (data, size); false outside it or for a malformed image.
 */
bool ehframe_read(const uint8_t *data, size_t size, uint64_t vaddr, size_t n, void *out);

/*
 * Finds PT_GNU_EH_FRAME and its search table in the datarel|sdata4 encoding
 * every linker writes (the one libunwind's binary search reads). True and *t
 * when there is a non-empty table.
 */
bool ehframe_table(const uint8_t *data, size_t size, struct eh_table *t);

/*
 * The start of the function containing vaddr: the FDE of the search table t
 * with the largest initial location <= vaddr, when its pc range covers vaddr
 * (compilers emit one FDE per function, stripped or not). True and *start.
 */
bool ehframe_function_start(const uint8_t *data, size_t size, const struct eh_table *t,
			    uint64_t vaddr, uint64_t *start);

#endif
