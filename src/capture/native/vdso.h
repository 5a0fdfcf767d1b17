/*
 * vdso: the kernel's vDSO as mapped into hound itself. Every 64-bit process
 * on the host maps the same image, and its [vdso] mapping has no file behind
 * it, so hound names and unwinds target frames there (clock_gettime,
 * gettimeofday: hot in many services) from its own copy.
 */
#ifndef HOUND_VDSO_H
#define HOUND_VDSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vdso_image {
	const uint8_t *data;  /* the ELF image (a complete file layout) */
	size_t size;          /* its mapping's size */
	uint64_t load_vaddr;  /* link-time address of its first byte */
};

/* hound's own vDSO, or NULL when the kernel maps none. Thread-safe. */
const struct vdso_image *vdso_self(void);

/*
 * True when a target mapping (its maps path, start and limit) is the vDSO
 * image hound has: "[vdso]" of the same size (a 32-bit process's differs).
 */
bool vdso_is_same(const char *path, uint64_t start, uint64_t limit);

/* The [vdso] range of process pid when it is that image; false otherwise. */
bool vdso_find(int pid, uint64_t *start, uint64_t *limit);

/* A read-only file descriptor holding the image (for libdw), or -1. Owned here. */
int vdso_fd(void);

#endif
