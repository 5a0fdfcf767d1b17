/* perf_unwind: DWARF unwinding of perf_event user-stack copies with libunwind (as perf --call-graph
 * dwarf). */
#include "capture/native/perf_unwind.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/native/ehframe.h"
#include "capture/native/symbolize.h"
#include "capture/native/vdso.h"
#include "lib/util.h"

/* Exported by libunwind-generic but not declared in its headers (perf uses it too). */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

/* One ELF file, mapped read-only for the unwinder's lifetime. */
struct elf_file {
	char *path;
	const uint8_t *data;
	size_t size;
	const Elf64_Phdr *phdr;
	size_t nphdr;
	bool has_table;
	bool borrowed;               /* data is not ours to unmap (the vDSO) */
	uint64_t hdr_vaddr, table_vaddr, fde_count; /* .eh_frame_hdr, link-time addresses */
};

/* One executable-or-not file-backed range of the address space. */
struct seg {
	uint64_t start, end, bias;   /* runtime = bias + link-time vaddr */
	uint64_t mod_start, mod_end; /* the whole module's range */
	bool exec;
	struct elf_file *elf;
};

struct perf_unwinder {
	pid_t pid;
	unw_addr_space_t as;
	struct seg *segs;
	size_t nsegs;
	struct elf_file **elves;
	size_t nelves;
	int64_t last_reload_ms;
	/* the sample being unwound */
	const uint64_t *regs;
	size_t nregs;
	const uint8_t *stack;
	size_t stack_len;
	uint64_t sp;
};

static const struct seg *find_seg(const perf_unwinder *u, uint64_t addr)
{
	size_t lo = 0, hi = u->nsegs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (addr < u->segs[mid].start)
			hi = mid;
		else if (addr >= u->segs[mid].end)
			lo = mid + 1;
		else
			return &u->segs[mid];
	}
	return NULL;
}

/* Fills the .eh_frame_hdr fields of e from its image. */
static void elf_find_table(struct elf_file *e)
{
	struct eh_table t;
	e->has_table = ehframe_table(e->data, e->size, &t);
	if (e->has_table) {
		e->hdr_vaddr = t.hdr_vaddr;
		e->table_vaddr = t.table_vaddr;
		e->fde_count = t.fde_count;
	}
}

/* The vDSO has no file: hound's own copy is the same image (not unmapped on close). */
static struct elf_file *elf_vdso(void)
{
	const struct vdso_image *v = vdso_self();
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)v->data;
	struct elf_file *e = xcalloc(1, sizeof(*e));
	e->path = xstrdup("[vdso]");
	e->data = v->data;
	e->size = v->size;
	e->borrowed = true;
	e->phdr = (const Elf64_Phdr *)(const void *)(v->data + eh->e_phoff);
	e->nphdr = eh->e_phnum;
	elf_find_table(e);
	return e;
}

static struct elf_file *elf_open(pid_t pid, const char *path)
{
	char full[4200];
	struct stat st;
	struct elf_file *e;
	void *m;
	int fd;

	snprintf(full, sizeof(full), "/proc/%d/root%s", (int)pid, path);
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* the leader's root is gone once the main thread exited: a live thread's */
		char root[64];
		util_proc_live_path(pid, "root", root, sizeof(root));
		snprintf(full, sizeof(full), "%s%s", root, path);
		fd = open(full, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return NULL;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return NULL;
	const Elf64_Ehdr *eh = m;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size) {
		munmap(m, (size_t)st.st_size);
		return NULL;
	}
	e = xcalloc(1, sizeof(*e));
	e->path = xstrdup(path);
	e->data = m;
	e->size = (size_t)st.st_size;
	e->phdr = (const Elf64_Phdr *)(const void *)((const uint8_t *)m + eh->e_phoff);
	e->nphdr = eh->e_phnum;
	elf_find_table(e);
	return e;
}

static void elf_close(struct elf_file *e)
{
	if (!e)
		return;
	if (e->data && !e->borrowed)
		munmap((void *)(uintptr_t)e->data, e->size);
	free(e->path);
	free(e);
}

static struct elf_file *elf_get(perf_unwinder *u, const char *path)
{
	struct elf_file *e;

	for (size_t i = 0; i < u->nelves; i++)
		if (u->elves[i] && strcmp(u->elves[i]->path, path) == 0)
			return u->elves[i];
	e = strcmp(path, "[vdso]") == 0 ? elf_vdso() : elf_open(u->pid, path);
	u->elves = xrealloc(u->elves, (u->nelves + 1) * sizeof(*u->elves));
	u->elves[u->nelves++] = e; /* NULL remembered too: no retry per sample */
	if (!e) {
		/* keep the path so a failed open is not retried on every sample */
		e = xcalloc(1, sizeof(*e));
		e->path = xstrdup(path);
		u->elves[u->nelves - 1] = e;
	}
	return e->data ? e : NULL;
}

/* bias = runtime start - link-time vaddr of the byte mapped at the mapping's offset. */
static bool seg_bias(const struct elf_file *e, const struct sym_map *m, uint64_t *bias)
{
	for (size_t i = 0; i < e->nphdr; i++) {
		const Elf64_Phdr *p = &e->phdr[i];
		uint64_t pstart = p->p_offset & ~(uint64_t)0xfff;
		if (p->p_type != PT_LOAD || m->offset < pstart ||
		    m->offset >= p->p_offset + p->p_filesz)
			continue;
		*bias = m->start - (p->p_vaddr - p->p_offset + m->offset);
		return true;
	}
	return false;
}

static int load_maps(perf_unwinder *u)
{
	char path[96];
	char *buf = NULL;
	size_t len = 0, n = 0;
	struct sym_map *maps = NULL;
	int rc;

	/* a live thread's maps: the leader's are empty once the main thread exited */
	util_proc_live_path(u->pid, "maps", path, sizeof(path));
	rc = util_read_file(path, &buf, &len, 64 << 20);
	if (rc < 0)
		return rc;
	rc = sym_parse_maps(buf, len, &maps, &n);
	free(buf);
	if (rc < 0)
		return rc;
	free(u->segs);
	u->segs = xcalloc(n ? n : 1, sizeof(*u->segs));
	u->nsegs = 0;
	for (size_t i = 0; i < n; i++) {
		struct sym_map *m = &maps[i];
		struct elf_file *e;
		struct seg *s;
		uint64_t bias;

		if (m->path[0] != '/' && !vdso_is_same(m->path, m->start, m->limit))
			continue;
		e = elf_get(u, m->path);
		if (!e || !seg_bias(e, m, &bias))
			continue;
		s = &u->segs[u->nsegs++];
		s->start = m->start;
		s->end = m->limit;
		s->bias = bias;
		s->exec = m->perms[2] == 'x';
		s->elf = e;
	}
	/* module range: all segments of the same file with the same bias */
	for (size_t i = 0; i < u->nsegs; i++) {
		struct seg *s = &u->segs[i];
		s->mod_start = s->start;
		s->mod_end = s->end;
		for (size_t j = 0; j < u->nsegs; j++) {
			if (u->segs[j].elf != s->elf || u->segs[j].bias != s->bias)
				continue;
			if (u->segs[j].start < s->mod_start)
				s->mod_start = u->segs[j].start;
			if (u->segs[j].end > s->mod_end)
				s->mod_end = u->segs[j].end;
		}
	}
	sym_maps_free(maps, n);
	return 0;
}

/* libunwind accessors over the copied stack, the sampled registers and the ELF files. */

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			      int need_unwind_info, void *arg)
{
	perf_unwinder *u = arg;
	const struct seg *s = find_seg(u, ip);
	unw_dyn_info_t di;

	if (!s || !s->elf->has_table)
		return -UNW_ENOINFO;
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = s->mod_start;
	di.end_ip = s->mod_end;
	di.u.rti.segbase = s->bias + s->elf->hdr_vaddr;
	di.u.rti.table_data = s->bias + s->elf->table_vaddr;
	di.u.rti.table_len = s->elf->fde_count * 8 / sizeof(unw_word_t);
	return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
}

static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg) {}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
	return -UNW_ENOINFO;
}

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp, int write,
			  void *arg)
{
	perf_unwinder *u = arg;
	const struct seg *s;

	if (write)
		return -UNW_EINVAL;
	if (addr >= u->sp && addr + 8 <= u->sp + u->stack_len) {
		memcpy(valp, u->stack + (addr - u->sp), 8);
		return 0;
	}
	s = find_seg(u, addr);
	if (s && ehframe_read(s->elf->data, s->elf->size, addr - s->bias, 8, valp))
		return 0;
	*valp = 0;
	return -UNW_EINVAL;
}

/* libunwind x86_64 register number -> index among the sampled registers. */
static int reg_index(unw_regnum_t reg)
{
	/* perf order: AX BX CX DX SI DI BP SP IP R8..R15 */
	static const int map[17] = {
	    [UNW_X86_64_RAX] = 0,  [UNW_X86_64_RBX] = 1,  [UNW_X86_64_RCX] = 2,
	    [UNW_X86_64_RDX] = 3,  [UNW_X86_64_RSI] = 4,  [UNW_X86_64_RDI] = 5,
	    [UNW_X86_64_RBP] = 6,  [UNW_X86_64_RSP] = 7,  [UNW_X86_64_RIP] = 8,
	    [UNW_X86_64_R8] = 9,   [UNW_X86_64_R9] = 10,  [UNW_X86_64_R10] = 11,
	    [UNW_X86_64_R11] = 12, [UNW_X86_64_R12] = 13, [UNW_X86_64_R13] = 14,
	    [UNW_X86_64_R14] = 15, [UNW_X86_64_R15] = 16,
	};
	if (reg < 0 || reg > UNW_X86_64_RIP)
		return -1;
	return map[reg];
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *valp, int write,
			  void *arg)
{
	perf_unwinder *u = arg;
	int i = reg_index(reg);

	if (write || i < 0 || (size_t)i >= u->nregs)
		return -UNW_EBADREG;
	*valp = u->regs[i];
	return 0;
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			    void *arg)
{
	return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	return -UNW_EINVAL;
}

static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			     unw_word_t *offp, void *arg)
{
	return -UNW_EINVAL;
}

static unw_accessors_t accessors = {
    .find_proc_info = acc_find_proc_info,
    .put_unwind_info = acc_put_unwind_info,
    .get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
    .access_mem = acc_access_mem,
    .access_reg = acc_access_reg,
    .access_fpreg = acc_access_fpreg,
    .resume = acc_resume,
    .get_proc_name = acc_get_proc_name,
};

int perf_unwinder_new(pid_t pid, perf_unwinder **out, char *err, size_t errlen)
{
	perf_unwinder *u = xcalloc(1, sizeof(*u));
	int rc;

	u->pid = pid;
	rc = load_maps(u);
	if (rc < 0) {
		snprintf(err, errlen, "read /proc/%d/maps: %s", (int)pid, strerror(-rc));
		perf_unwinder_free(u);
		return rc;
	}
	u->last_reload_ms = util_mono_ms();
	u->as = unw_create_addr_space(&accessors, 0);
	if (!u->as) {
		snprintf(err, errlen, "unw_create_addr_space failed");
		perf_unwinder_free(u);
		return -ENOMEM;
	}
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	*out = u;
	return 0;
}

void perf_unwinder_free(perf_unwinder *u)
{
	if (!u)
		return;
	if (u->as)
		unw_destroy_addr_space(u->as);
	for (size_t i = 0; i < u->nelves; i++) {
		if (u->elves[i] && !u->elves[i]->data) {
			free(u->elves[i]->path);
			free(u->elves[i]);
		} else {
			elf_close(u->elves[i]);
		}
	}
	free(u->elves);
	free(u->segs);
	free(u);
}

int perf_unwinder_reload(perf_unwinder *u)
{
	int64_t now = util_mono_ms();
	int rc;

	if (now - u->last_reload_ms < 100)
		return 0;
	u->last_reload_ms = now;
	rc = load_maps(u);
	if (rc == 0)
		unw_flush_cache(u->as, 0, 0);
	return rc;
}

bool perf_unwinder_is_code(perf_unwinder *u, uint64_t addr)
{
	const struct seg *s = find_seg(u, addr);
	return s && s->exec;
}

size_t perf_unwind_sample(perf_unwinder *u, const uint64_t *regs, size_t nregs,
			  const uint8_t *stack, size_t stack_len, uint64_t *ips, size_t max,
			  bool *complete)
{
	unw_cursor_t c;
	size_t n = 0;

	*complete = false;
	if (nregs < 9 || max == 0)
		return 0;
	u->regs = regs;
	u->nregs = nregs;
	u->stack = stack;
	u->stack_len = stack_len;
	u->sp = regs[7];
	ips[n++] = regs[8];
	if (unw_init_remote(&c, u->as, u) < 0)
		return n;
	while (n < max) {
		unw_word_t ip;
		int rc = unw_step(&c);
		if (rc == 0) {
			*complete = true;
			break;
		}
		if (rc < 0 || unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		ips[n++] = ip;
	}
	return n;
}
