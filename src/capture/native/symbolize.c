/* symbolize: program counters of a process to module, function and source line (elfutils libdw). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "capture/native/symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "capture/native/ehframe.h"
#include "capture/native/vdso.h"
#include "lib/util.h"

#define MAX_LOADS 16

/* One ELF file, shared by every process that maps it. */
struct module {
	char build_id[41];
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
	Dwfl *dwfl;
	Dwfl_Module *dm;
	size_t nloads;
	struct {
		uint64_t offset, vaddr, filesz;
	} loads[MAX_LOADS];
	int refs;
	uint64_t last_used;
	bool eh_checked, has_eh;   /* the .eh_frame_hdr table, looked for on first use */
	struct eh_table eh;
	struct module *next;
};

struct symbolizer {
	pthread_mutex_t mu;
	struct module *mods;
	size_t nmods, max_modules;
	uint64_t tick;
};

struct sym_proc {
	symbolizer *z;
	pid_t pid;
	unsigned flags;
	struct sym_map *maps;
	size_t nmaps;
	/* interned strings: open addressing, power-of-two capacity */
	char **strs;
	size_t nstrs, cap_strs;
	/* lookups done, by lookup_pc: libdw's symbol search is linear in the symtab */
	struct sym_frame *memo;
	size_t nmemo, cap_memo;
};

static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/* ---- /proc/PID/maps ---- */

void sym_maps_free(struct sym_map *maps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(maps[i].path);
	free(maps);
}

int sym_parse_maps(const char *buf, size_t len, struct sym_map **out, size_t *n)
{
	size_t cap = 64, cnt = 0;
	struct sym_map *v = xcalloc(cap, sizeof(*v));
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		char line[4096 + 256], perms[8] = "";
		unsigned long long start, limit, off, inode;
		unsigned maj, min;
		int pos = 0;
		size_t ll;

		if (!eol)
			eol = end;
		ll = (size_t)(eol - p);
		if (ll >= sizeof(line))
			ll = sizeof(line) - 1;
		memcpy(line, p, ll);
		line[ll] = '\0';
		p = eol + 1;
		if (ll == 0)
			continue;
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &limit, perms, &off,
			   &maj, &min, &inode, &pos) < 7 ||
		    limit < start || strlen(perms) != 4) {
			sym_maps_free(v, cnt);
			return -EINVAL;
		}
		if (cnt == cap)
			v = xrealloc(v, (cap *= 2) * sizeof(*v));
		memset(&v[cnt], 0, sizeof(v[cnt]));
		v[cnt].start = start;
		v[cnt].limit = limit;
		v[cnt].offset = off;
		v[cnt].inode = inode;
		memcpy(v[cnt].perms, perms, 5);
		{
			const char *path = line + (pos > 0 ? pos : (int)ll);
			while (*path == ' ')
				path++;
			v[cnt].path = xstrdup(path);
		}
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

const char *sym_module_basename(const struct sym_map *m)
{
	const char *s;
	if (!m || !m->path[0])
		return "?";
	s = strrchr(m->path, '/');
	return s ? s + 1 : m->path;
}

/* ---- the module cache ---- */

symbolizer *symbolizer_new(size_t max_modules)
{
	symbolizer *z = xcalloc(1, sizeof(*z));
	pthread_mutex_init(&z->mu, NULL);
	z->max_modules = max_modules ? max_modules : 128;
	elf_version(EV_CURRENT);
	return z;
}

static void module_free(struct module *m)
{
	if (m->dwfl)
		dwfl_end(m->dwfl);
	free(m);
}

void symbolizer_free(symbolizer *z)
{
	if (!z)
		return;
	while (z->mods) {
		struct module *m = z->mods;
		z->mods = m->next;
		module_free(m);
	}
	pthread_mutex_destroy(&z->mu);
	free(z);
}

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static symbolizer *shared_z;

static void shared_init(void)
{
	shared_z = symbolizer_new(256);
}

symbolizer *symbolizer_shared(void)
{
	pthread_once(&shared_once, shared_init);
	return shared_z;
}

/* Drops the least recently used unreferenced modules above the limit. Locked. */
static void evict(symbolizer *z)
{
	while (z->nmods > z->max_modules) {
		struct module **victim = NULL;
		for (struct module **pp = &z->mods; *pp; pp = &(*pp)->next)
			if ((*pp)->refs == 0 &&
			    (!victim || (*pp)->last_used < (*victim)->last_used))
				victim = pp;
		if (!victim)
			return;
		struct module *m = *victim;
		*victim = m->next;
		module_free(m);
		z->nmods--;
	}
}

static void hex(const unsigned char *b, size_t n, char *out, size_t outlen)
{
	size_t i;
	for (i = 0; i < n && 2 * i + 2 < outlen; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	out[2 * i] = '\0';
}

/* Reads the build-id and PT_LOAD segments of an open ELF file into m. */
static int read_elf(int fd, struct module *m)
{
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *bid = NULL;
	ssize_t bidlen;
	size_t phnum = 0;

	if (!e || elf_kind(e) != ELF_K_ELF) {
		if (e)
			elf_end(e);
		return -ENOEXEC;
	}
	bidlen = dwelf_elf_gnu_build_id(e, &bid);
	if (bidlen > 0)
		hex(bid, (size_t)bidlen, m->build_id, sizeof(m->build_id));
	if (elf_getphdrnum(e, &phnum) == 0) {
		for (size_t i = 0; i < phnum && m->nloads < MAX_LOADS; i++) {
			GElf_Phdr ph;
			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD) {
				m->loads[m->nloads].offset = ph.p_offset;
				m->loads[m->nloads].vaddr = ph.p_vaddr;
				m->loads[m->nloads].filesz = ph.p_filesz;
				m->nloads++;
			}
		}
	}
	elf_end(e);
	return 0;
}

/* Finds or loads the module of an open file. Locked. The fd stays the caller's. */
static struct module *module_get(symbolizer *z, int fd, const char *name, const char *path)
{
	struct stat st;
	struct module *m, tmp;
	int dfd;

	if (fstat(fd, &st) < 0)
		return NULL;
	for (m = z->mods; m; m = m->next)
		if (m->dev == st.st_dev && m->ino == st.st_ino && m->size == st.st_size &&
		    m->mtime_ns == (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec)
			return m;
	memset(&tmp, 0, sizeof(tmp));
	if (read_elf(fd, &tmp) < 0)
		return NULL;
	if (tmp.build_id[0])
		for (m = z->mods; m; m = m->next)
			if (strcmp(m->build_id, tmp.build_id) == 0)
				return m;
	m = xmalloc(sizeof(*m));
	*m = tmp;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->size = st.st_size;
	m->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	m->dwfl = dwfl_begin(&dwfl_callbacks);
	dfd = dup(fd);
	if (m->dwfl && dfd >= 0) {
		dwfl_report_begin(m->dwfl);
		/* Reported at its link-time addresses: lookups use ELF vaddrs. */
		m->dm = dwfl_report_elf(m->dwfl, name, path, dfd, 0, true);
		dwfl_report_end(m->dwfl, NULL, NULL);
		if (!m->dm)
			close(dfd);
	} else if (dfd >= 0) {
		close(dfd);
	}
	m->last_used = ++z->tick;
	m->next = z->mods;
	z->mods = m;
	z->nmods++;
	evict(z);
	return m;
}

/* Opens the file behind a mapping as the target sees it. */
static int open_mapped(pid_t pid, const struct sym_map *mp, char *path, size_t len)
{
	static const char deleted[] = " (deleted)";
	size_t pl = strlen(mp->path);
	int fd;

	/* through a live thread: the leader's view is gone once the main thread exited */
	pid_t tid = util_proc_live_tid(pid);
	char dir[64];
	if (tid > 0 && tid != pid)
		snprintf(dir, sizeof(dir), "/proc/%d/task/%d", (int)pid, (int)tid);
	else
		snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	if (pl > sizeof(deleted) - 1 &&
	    strcmp(mp->path + pl - (sizeof(deleted) - 1), deleted) == 0) {
		snprintf(path, len, "%s/map_files/%" PRIx64 "-%" PRIx64, dir, mp->start,
			 mp->limit);
		return open(path, O_RDONLY | O_CLOEXEC);
	}
	snprintf(path, len, "%s/root%s", dir, mp->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	snprintf(path, len, "%s", mp->path);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Attaches the cached module to a file mapping. Locked. */
static void resolve_map(sym_proc *p, struct sym_map *mp)
{
	char path[4200];
	struct module *m;
	int fd;

	mp->resolved_ = true;
	if (vdso_is_same(mp->path, mp->start, mp->limit) && vdso_fd() >= 0) {
		/* no file behind [vdso]: hound's own copy is the same image */
		m = module_get(p->z, vdso_fd(), "[vdso]", "[vdso]");
	} else {
		if (mp->path[0] != '/')
			return;
		fd = open_mapped(p->pid, mp, path, sizeof(path));
		if (fd < 0)
			return;
		m = module_get(p->z, fd, sym_module_basename(mp), path);
		close(fd);
	}
	if (!m)
		return;
	m->refs++;
	mp->mod_ = m;
	memcpy(mp->build_id, m->build_id, sizeof(mp->build_id));
}

/* ---- per-process view ---- */

static void release_maps(sym_proc *p)
{
	pthread_mutex_lock(&p->z->mu);
	for (size_t i = 0; i < p->nmaps; i++) {
		struct module *m = p->maps[i].mod_;
		if (m)
			m->refs--;
	}
	evict(p->z);
	pthread_mutex_unlock(&p->z->mu);
	sym_maps_free(p->maps, p->nmaps);
	p->maps = NULL;
	p->nmaps = 0;
}

int sym_proc_reload(sym_proc *p, char *err, size_t errlen)
{
	char path[96], *buf = NULL;
	struct sym_map *maps;
	size_t len = 0, n = 0;
	int rc;

	/* a live thread's maps: the leader's are empty once the main thread exited */
	util_proc_live_path(p->pid, "maps", path, sizeof(path));
	rc = util_read_file(path, &buf, &len, 64 << 20);
	if (rc < 0) {
		snprintf(err, errlen, "read %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = sym_parse_maps(buf, len, &maps, &n);
	free(buf);
	if (rc < 0) {
		snprintf(err, errlen, "%s: unreadable line", path);
		return rc;
	}
	release_maps(p);
	p->maps = maps;
	p->nmaps = n;
	/* Remembered frames point into the old maps. */
	if (p->memo)
		memset(p->memo, 0, p->cap_memo * sizeof(*p->memo));
	p->nmemo = 0;
	return 0;
}

int sym_proc_open(symbolizer *z, pid_t pid, sym_proc **out, char *err, size_t errlen)
{
	return sym_proc_open_flags(z, pid, SYM_LINES, out, err, errlen);
}

int sym_proc_open_flags(symbolizer *z, pid_t pid, unsigned flags, sym_proc **out, char *err,
			size_t errlen)
{
	sym_proc *p = xcalloc(1, sizeof(*p));
	int rc;

	p->z = z;
	p->pid = pid;
	p->flags = flags;
	rc = sym_proc_reload(p, err, errlen);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void sym_proc_free(sym_proc *p)
{
	if (!p)
		return;
	release_maps(p);
	for (size_t i = 0; i < p->cap_strs; i++)
		free(p->strs[i]);
	free(p->strs);
	free(p->memo);
	free(p);
}

const struct sym_map *sym_proc_maps(const sym_proc *p, size_t *n)
{
	*n = p->nmaps;
	return p->maps;
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* Returns p's copy of s (one per distinct string). */
static const char *intern(sym_proc *p, const char *s)
{
	size_t i;

	if (!s)
		return NULL;
	if (2 * (p->nstrs + 1) > p->cap_strs) {
		size_t ncap = p->cap_strs ? 2 * p->cap_strs : 256;
		char **n = xcalloc(ncap, sizeof(*n));
		for (size_t j = 0; j < p->cap_strs; j++) {
			if (!p->strs[j])
				continue;
			for (i = str_hash(p->strs[j]) & (ncap - 1); n[i]; i = (i + 1) & (ncap - 1))
				;
			n[i] = p->strs[j];
		}
		free(p->strs);
		p->strs = n;
		p->cap_strs = ncap;
	}
	for (i = str_hash(s) & (p->cap_strs - 1); p->strs[i]; i = (i + 1) & (p->cap_strs - 1))
		if (strcmp(p->strs[i], s) == 0)
			return p->strs[i];
	p->strs[i] = xstrdup(s);
	p->nstrs++;
	return p->strs[i];
}

static struct sym_map *find_map(sym_proc *p, uint64_t pc)
{
	size_t lo = 0, hi = p->nmaps;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pc < p->maps[mid].start)
			hi = mid;
		else if (pc >= p->maps[mid].limit)
			lo = mid + 1;
		else
			return &p->maps[mid];
	}
	return NULL;
}

static uint64_t offset_to_vaddr(const struct module *m, uint64_t off)
{
	for (size_t i = 0; i < m->nloads; i++)
		if (off >= m->loads[i].offset && off < m->loads[i].offset + m->loads[i].filesz)
			return off - m->loads[i].offset + m->loads[i].vaddr;
	return off;
}

static size_t memo_slot(const sym_proc *p, uint64_t lookup_pc)
{
	size_t i = (size_t)((lookup_pc * 0x9e3779b97f4a7c15ULL) >> 20) & (p->cap_memo - 1);
	while (p->memo[i].lookup_pc && p->memo[i].lookup_pc != lookup_pc)
		i = (i + 1) & (p->cap_memo - 1);
	return i;
}

static void memo_put(sym_proc *p, const struct sym_frame *f)
{
	if (!f->lookup_pc)
		return;
	if (2 * (p->nmemo + 1) > p->cap_memo) {
		struct sym_frame *old = p->memo;
		size_t ocap = p->cap_memo;
		p->cap_memo = ocap ? 2 * ocap : 256;
		p->memo = xcalloc(p->cap_memo, sizeof(*p->memo));
		for (size_t j = 0; j < ocap; j++)
			if (old[j].lookup_pc)
				p->memo[memo_slot(p, old[j].lookup_pc)] = old[j];
		free(old);
	}
	p->memo[memo_slot(p, f->lookup_pc)] = *f;
	p->nmemo++;
}

static void lookup_uncached(sym_proc *p, struct sym_frame *out);

void sym_proc_lookup(sym_proc *p, uint64_t pc, bool is_return, struct sym_frame *out)
{
	uint64_t lpc = is_return && pc > 0 ? pc - 1 : pc;

	if (p->cap_memo) {
		const struct sym_frame *f = &p->memo[memo_slot(p, lpc)];
		if (f->lookup_pc == lpc) {
			*out = *f;
			out->pc = pc;
			return;
		}
	}
	memset(out, 0, sizeof(*out));
	out->pc = pc;
	out->lookup_pc = lpc;
	lookup_uncached(p, out);
	memo_put(p, out);
}

/*
 * A stripped function's identity: the start of the .eh_frame FDE that covers
 * addr (compilers emit one per function), named module+0xSTART. Locked.
 */
static void cfi_function(sym_proc *p, struct module *m, const struct sym_map *mp, Dwarf_Addr addr,
			 struct sym_frame *out)
{
	GElf_Addr bias = 0;
	Elf *e;
	const uint8_t *data;
	size_t size = 0;
	uint64_t start;
	char buf[320];

	if (!m->eh_checked) {
		m->eh_checked = true;
		e = dwfl_module_getelf(m->dm, &bias);
		data = e ? (const uint8_t *)elf_rawfile(e, &size) : NULL;
		m->has_eh = data && ehframe_table(data, size, &m->eh);
	}
	if (!m->has_eh)
		return;
	e = dwfl_module_getelf(m->dm, &bias);
	data = e ? (const uint8_t *)elf_rawfile(e, &size) : NULL;
	if (!data || !ehframe_function_start(data, size, &m->eh, addr, &start))
		return;
	snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, sym_module_basename(mp), start);
	out->cfi_function = out->function = intern(p, buf);
	out->cfi_start = start;
	out->function_offset = addr - start;
}

const char *sym_frame_name(const struct sym_frame *f)
{
	return f->function;
}

static void lookup_uncached(sym_proc *p, struct sym_frame *out)
{
	struct sym_map *mp;
	struct module *m;

	mp = find_map(p, out->lookup_pc);
	if (!mp)
		return;
	out->map = mp;
	out->file_offset = out->lookup_pc - mp->start + mp->offset;
	pthread_mutex_lock(&p->z->mu);
	if (!mp->resolved_)
		resolve_map(p, mp);
	m = mp->mod_;
	if (m && m->dm) {
		Dwarf_Addr addr = offset_to_vaddr(m, out->file_offset), lineaddr;
		GElf_Off symoff = 0;
		GElf_Sym sym;
		const char *name, *file;
		int lineno = 0;
		Dwfl_Line *line;

		m->last_used = ++p->z->tick;
		name = dwfl_module_addrinfo(m->dm, addr, &symoff, &sym, NULL, NULL, NULL);
		if (name && name[0]) {
			out->function = intern(p, name);
			out->function_offset = symoff;
		} else {
			cfi_function(p, m, mp, addr, out);
		}
		line = (p->flags & SYM_LINES) ? dwfl_module_getsrc(m->dm, addr) : NULL;
		if (line && (file = dwfl_lineinfo(line, &lineaddr, &lineno, NULL, NULL, NULL))) {
			out->file = intern(p, file);
			out->line = lineno;
		}
	}
	pthread_mutex_unlock(&p->z->mu);
}
