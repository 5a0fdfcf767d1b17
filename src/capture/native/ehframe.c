/* ehframe: reading an in-memory 64-bit ELF image as it is laid out in a file. */
#include "capture/native/ehframe.h"

#include <elf.h>
#include <string.h>

#define DW_EH_PE_udata4	 0x03
#define DW_EH_PE_sdata4	 0x0b
#define DW_EH_PE_pcrel	 0x10
#define DW_EH_PE_datarel 0x30

/* The program headers of a well-formed ELF64 image, or NULL. */
static const Elf64_Phdr *phdrs(const uint8_t *data, size_t size, size_t *n)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)data;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size)
		return NULL;
	*n = eh->e_phnum;
	return (const Elf64_Phdr *)(const void *)(data + eh->e_phoff);
}

bool ehframe_read(const uint8_t *data, size_t size, uint64_t vaddr, size_t n, void *out)
{
	size_t nph = 0;
	const Elf64_Phdr *ph = phdrs(data, size, &nph);
	for (size_t i = 0; ph && i < nph; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD || vaddr < p->p_vaddr || vaddr + n > p->p_vaddr + p->p_filesz)
			continue;
		uint64_t off = vaddr - p->p_vaddr + p->p_offset;
		if (off + n > size)
			return false;
		memcpy(out, data + off, n);
		return true;
	}
	return false;
}

static bool read_enc(const uint8_t *data, size_t size, uint64_t *pos, uint8_t enc, uint64_t base,
		     uint64_t *out)
{
	int32_t s;
	uint32_t us;

	if ((enc & 0x0f) == DW_EH_PE_sdata4) {
		if (!ehframe_read(data, size, *pos, 4, &s))
			return false;
		*out = (uint64_t)(int64_t)s;
	} else if ((enc & 0x0f) == DW_EH_PE_udata4) {
		if (!ehframe_read(data, size, *pos, 4, &us))
			return false;
		*out = us;
	} else {
		return false;
	}
	if ((enc & 0x70) == DW_EH_PE_pcrel)
		*out += *pos;
	else if ((enc & 0x70) == DW_EH_PE_datarel)
		*out += base;
	*pos += 4;
	return true;
}

bool ehframe_table(const uint8_t *data, size_t size, struct eh_table *t)
{
	size_t nph = 0;
	const Elf64_Phdr *ph = phdrs(data, size, &nph);
	for (size_t i = 0; ph && i < nph; i++) {
		const Elf64_Phdr *p = &ph[i];
		uint8_t h[4];
		uint64_t pos, eh_frame, count;

		if (p->p_type != PT_GNU_EH_FRAME)
			continue;
		if (!ehframe_read(data, size, p->p_vaddr, 4, h) || h[0] != 1 ||
		    h[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
			return false;
		pos = p->p_vaddr + 4;
		if (!read_enc(data, size, &pos, h[1], p->p_vaddr, &eh_frame) ||
		    !read_enc(data, size, &pos, h[2], p->p_vaddr, &count) || count == 0)
			return false;
		t->hdr_vaddr = p->p_vaddr;
		t->table_vaddr = pos;
		t->fde_count = count;
		return true;
	}
	return false;
}

bool ehframe_function_start(const uint8_t *data, size_t size, const struct eh_table *t,
			    uint64_t vaddr, uint64_t *start)
{
	uint64_t lo = 0, hi = t->fde_count, fde = 0, loc = 0;
	bool found = false;

	/* Entries: (initial location, FDE address) as sdata4 relative to the header. */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int32_t e[2];
		if (!ehframe_read(data, size, t->table_vaddr + mid * 8, 8, e))
			return false;
		uint64_t l = t->hdr_vaddr + (uint64_t)(int64_t)e[0];
		if (l <= vaddr) {
			loc = l;
			fde = t->hdr_vaddr + (uint64_t)(int64_t)e[1];
			found = true;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (!found)
		return false;
	/* FDE: length, CIE pointer, pc_begin (pcrel sdata4, as the table), pc_range. */
	uint32_t len, range;
	int32_t begin;
	if (!ehframe_read(data, size, fde, 4, &len) || len == 0xffffffffu ||
	    !ehframe_read(data, size, fde + 8, 4, &begin) ||
	    !ehframe_read(data, size, fde + 12, 4, &range))
		return false;
	if (fde + 8 + (uint64_t)(int64_t)begin != loc || vaddr >= loc + range)
		return false; /* another encoding, or a gap between functions (PLT, padding) */
	*start = loc;
	return true;
}
