/* perf_profile: aggregates sampled call chains, symbolizes them and writes pprof and folded stacks.
 */
#include "capture/native/perf_profile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/pprof.h"
#include "lib/util.h"

/* One distinct program counter (a leaf pc and a return address are distinct). */
struct pcinfo {
	uint64_t pc;
	bool is_return, resolved;
	char *function, *file; /* owned, NULL when unknown */
	int line;
	int map; /* index into maps, -1 when none */
};

struct pmap {
	uint64_t start, limit, offset;
	char *path, *build_id;
};

/* One distinct (thread, chain): frames are indexes into pcs. */
struct stack {
	uint64_t hash;
	int thread;	 /* index into threads */
	size_t n, first; /* frames at frames[first .. first + n) */
	int64_t count, ns;
	int64_t extra[2]; /* the third and fourth values, when the profile has them */
};

struct perf_profile {
	struct pcinfo *pcs;
	size_t npcs, cap_pcs, nresolved;
	size_t *pc_slots, pc_slot_cap; /* open addressing: index + 1, 0 = empty */
	struct stack *stacks;
	size_t nstacks, cap_stacks;
	size_t *st_slots, st_slot_cap;
	uint32_t *frames;
	size_t nframes, cap_frames;
	char **threads;
	size_t nthreads;
	struct pmap *maps;
	size_t nmaps;
	size_t nsamples;
	const char *types[8]; /* count type, unit, value type, unit, then the extra values' */
	size_t nvalues;	      /* 2, or 4 with perf_profile_set_extra_types */
	bool folded_by_value;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

perf_profile *perf_profile_new(void)
{
	perf_profile *p = xcalloc(1, sizeof(*p));
	p->pc_slot_cap = 1024;
	p->pc_slots = xcalloc(p->pc_slot_cap, sizeof(size_t));
	p->st_slot_cap = 1024;
	p->st_slots = xcalloc(p->st_slot_cap, sizeof(size_t));
	perf_profile_set_types(p, "samples", "count", "cpu", "nanoseconds", false);
	return p;
}

void perf_profile_free(perf_profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->npcs; i++) {
		free(p->pcs[i].function);
		free(p->pcs[i].file);
	}
	for (size_t i = 0; i < p->nthreads; i++)
		free(p->threads[i]);
	for (size_t i = 0; i < p->nmaps; i++) {
		free(p->maps[i].path);
		free(p->maps[i].build_id);
	}
	free(p->pcs);
	free(p->pc_slots);
	free(p->stacks);
	free(p->st_slots);
	free(p->frames);
	free(p->threads);
	free(p->maps);
	free(p);
}

static uint64_t pc_hash(uint64_t pc, bool ret)
{
	return mix(pc, ret);
}

static void pc_rehash(perf_profile *p)
{
	size_t cap = p->pc_slot_cap * 2;
	size_t *slots = xcalloc(cap, sizeof(size_t));
	for (size_t i = 0; i < p->npcs; i++) {
		size_t j = pc_hash(p->pcs[i].pc, p->pcs[i].is_return) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = i + 1;
	}
	free(p->pc_slots);
	p->pc_slots = slots;
	p->pc_slot_cap = cap;
}

static uint32_t pc_index(perf_profile *p, uint64_t pc, bool ret)
{
	size_t j;

	if ((p->npcs + 1) * 2 > p->pc_slot_cap)
		pc_rehash(p);
	j = pc_hash(pc, ret) & (p->pc_slot_cap - 1);
	while (p->pc_slots[j]) {
		struct pcinfo *e = &p->pcs[p->pc_slots[j] - 1];
		if (e->pc == pc && e->is_return == ret)
			return (uint32_t)(p->pc_slots[j] - 1);
		j = (j + 1) & (p->pc_slot_cap - 1);
	}
	if (p->npcs == p->cap_pcs) {
		p->cap_pcs = p->cap_pcs ? p->cap_pcs * 2 : 256;
		p->pcs = xrealloc(p->pcs, p->cap_pcs * sizeof(*p->pcs));
	}
	memset(&p->pcs[p->npcs], 0, sizeof(struct pcinfo));
	p->pcs[p->npcs].pc = pc;
	p->pcs[p->npcs].is_return = ret;
	p->pcs[p->npcs].map = -1;
	p->pc_slots[j] = ++p->npcs;
	return (uint32_t)(p->npcs - 1);
}

static int thread_index(perf_profile *p, const char *name)
{
	for (size_t i = 0; i < p->nthreads; i++)
		if (strcmp(p->threads[i], name) == 0)
			return (int)i;
	p->threads = xrealloc(p->threads, (p->nthreads + 1) * sizeof(char *));
	p->threads[p->nthreads] = xstrdup(name);
	return (int)p->nthreads++;
}

static void st_rehash(perf_profile *p)
{
	size_t cap = p->st_slot_cap * 2;
	size_t *slots = xcalloc(cap, sizeof(size_t));
	for (size_t i = 0; i < p->nstacks; i++) {
		size_t j = p->stacks[i].hash & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = i + 1;
	}
	free(p->st_slots);
	p->st_slots = slots;
	p->st_slot_cap = cap;
}

size_t perf_profile_intern(perf_profile *p, const char *thread, const uint64_t *ips, size_t n)
{
	int th = thread_index(p, thread ? thread : "");
	uint64_t h = mix(0, (uint64_t)th);
	size_t first = p->nframes, j;

	if (p->nframes + n > p->cap_frames) {
		p->cap_frames = (p->nframes + n) * 2 + 1024;
		p->frames = xrealloc(p->frames, p->cap_frames * sizeof(uint32_t));
	}
	for (size_t i = 0; i < n; i++) {
		p->frames[first + i] = pc_index(p, ips[i], i > 0);
		h = mix(h, p->frames[first + i]);
	}
	if ((p->nstacks + 1) * 2 > p->st_slot_cap)
		st_rehash(p);
	j = h & (p->st_slot_cap - 1);
	while (p->st_slots[j]) {
		struct stack *s = &p->stacks[p->st_slots[j] - 1];
		if (s->hash == h && s->thread == th && s->n == n &&
		    memcmp(&p->frames[s->first], &p->frames[first], n * sizeof(uint32_t)) == 0)
			return p->st_slots[j] - 1; /* the frames appended above are reused later */
		j = (j + 1) & (p->st_slot_cap - 1);
	}
	if (p->nstacks == p->cap_stacks) {
		p->cap_stacks = p->cap_stacks ? p->cap_stacks * 2 : 256;
		p->stacks = xrealloc(p->stacks, p->cap_stacks * sizeof(*p->stacks));
	}
	p->stacks[p->nstacks] = (struct stack){h, th, n, first, 0, 0, {0, 0}};
	p->st_slots[j] = ++p->nstacks;
	p->nframes += n;
	return p->nstacks - 1;
}

void perf_profile_charge(perf_profile *p, size_t stack, int64_t count, int64_t value)
{
	if (stack >= p->nstacks)
		return;
	p->stacks[stack].count += count;
	p->stacks[stack].ns += value;
}

void perf_profile_charge_extra(perf_profile *p, size_t stack, int64_t v2, int64_t v3)
{
	if (stack >= p->nstacks)
		return;
	p->stacks[stack].extra[0] += v2;
	p->stacks[stack].extra[1] += v3;
}

void perf_profile_add(perf_profile *p, const char *thread, const uint64_t *ips, size_t n,
		      int64_t ns)
{
	p->nsamples++;
	perf_profile_charge(p, perf_profile_intern(p, thread, ips, n), 1, ns);
}

static int map_index(perf_profile *p, const struct sym_map *m)
{
	for (size_t i = 0; i < p->nmaps; i++)
		if (p->maps[i].start == m->start && strcmp(p->maps[i].path, m->path) == 0)
			return (int)i;
	p->maps = xrealloc(p->maps, (p->nmaps + 1) * sizeof(*p->maps));
	p->maps[p->nmaps] = (struct pmap){m->start, m->limit, m->offset, xstrdup(m->path),
					  m->build_id[0] ? xstrdup(m->build_id) : NULL};
	return (int)p->nmaps++;
}

void perf_profile_resolve(perf_profile *p, sym_proc *sp)
{
	for (size_t i = p->nresolved; i < p->npcs; i++) {
		struct pcinfo *e = &p->pcs[i];
		struct sym_frame f;

		sym_proc_lookup(sp, e->pc, e->is_return, &f);
		/* A stripped function is named by its start, so its instructions count together. */
		if (sym_frame_name(&f))
			e->function = xstrdup(sym_frame_name(&f));
		if (f.file)
			e->file = xstrdup(f.file);
		e->line = f.line;
		if (f.map && f.map->path && f.map->path[0])
			e->map = map_index(p, f.map);
		if (!e->function && e->map >= 0)
			e->function = xasprintf("%s+0x%llx",
						strrchr(p->maps[e->map].path, '/')
						    ? strrchr(p->maps[e->map].path, '/') + 1
						    : p->maps[e->map].path,
						(unsigned long long)f.file_offset);
		e->resolved = true;
	}
	p->nresolved = p->npcs;
}

static const char *fn_name(const struct pcinfo *e, char *buf, size_t len);

void perf_profile_set_types(perf_profile *p, const char *count_type, const char *count_unit,
			    const char *value_type, const char *value_unit, bool folded_by_value)
{
	p->types[0] = count_type;
	p->types[1] = count_unit;
	p->types[2] = value_type;
	p->types[3] = value_unit;
	p->folded_by_value = folded_by_value;
	if (p->nvalues < 2)
		p->nvalues = 2;
}

void perf_profile_set_extra_types(perf_profile *p, const char *type2, const char *unit2,
				  const char *type3, const char *unit3)
{
	p->types[4] = type2;
	p->types[5] = unit2;
	p->types[6] = type3;
	p->types[7] = unit3;
	p->nvalues = 4;
}

static int fn_cmp(const void *a, const void *b)
{
	const struct perf_profile_fn *x = a, *y = b;
	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return strcmp(x->function, y->function);
}

size_t perf_profile_top(const perf_profile *p, perf_frame_class_fn cls, void *arg,
			struct perf_profile_fn **out)
{
	struct perf_profile_fn *fns = NULL;
	size_t n = 0, cap = 0;
	char nb[40];

	for (size_t i = 0; i < p->nstacks; i++) {
		const struct stack *s = &p->stacks[i];
		const struct pcinfo *best = NULL;
		int best_cls = -1;
		const char *name;
		size_t k;

		if (s->ns == 0)
			continue;
		for (size_t f = 0; f < s->n; f++) {
			const struct pcinfo *e = &p->pcs[p->frames[s->first + f]];
			int c = cls(e->function, e->map >= 0 ? p->maps[e->map].path : NULL, arg);
			if (c > best_cls) {
				best_cls = c;
				best = e;
			}
		}
		if (!best)
			continue;
		name = fn_name(best, nb, sizeof(nb));
		for (k = 0; k < n && strcmp(fns[k].function, name) != 0; k++)
			;
		if (k == n) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				fns = xrealloc(fns, cap * sizeof(*fns));
			}
			fns[n++] = (struct perf_profile_fn){
			    xstrdup(name), best->file ? xstrdup(best->file) : NULL,
			    best->map >= 0 ? xstrdup(p->maps[best->map].path) : NULL, best->line,
			    0, 0};
		}
		fns[k].count += s->count;
		fns[k].value += s->ns;
	}
	if (n)
		qsort(fns, n, sizeof(*fns), fn_cmp);
	*out = fns;
	return n;
}

void perf_profile_fns_free(struct perf_profile_fn *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].function);
		free(f[i].file);
		free(f[i].module);
	}
	free(f);
}

size_t perf_profile_nsamples(const perf_profile *p)
{
	return p->nsamples;
}

static const char *fn_name(const struct pcinfo *e, char *buf, size_t len)
{
	if (e->function)
		return e->function;
	snprintf(buf, len, "0x%llx", (unsigned long long)e->pc);
	return buf;
}

size_t perf_profile_count_chain(const perf_profile *p, const char *const *chain, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < p->nstacks; i++) {
		const struct stack *s = &p->stacks[i];
		size_t k = 0;
		/* chain is root first; frames are leaf first: walk from the root end */
		for (size_t f = s->n; f-- > 0 && k < n;) {
			const struct pcinfo *e = &p->pcs[p->frames[s->first + f]];
			if (e->function && strcmp(e->function, chain[k]) == 0)
				k++;
		}
		if (k == n)
			total += (size_t)s->count;
	}
	return total;
}

int perf_profile_write_pprof(const perf_profile *p, const char *path, int64_t time_wall_ns,
			     int64_t duration_ns, int64_t period_ns, const char *comment, char *err,
			     size_t errlen)
{
	pprof_builder *b = pprof_builder_new();
	struct pprof_map *maps = xcalloc(p->nmaps + 1, sizeof(*maps));
	struct pprof_frame *fr = NULL;
	size_t cap = 0;
	int rc = 0;

	for (size_t t = 0; t < p->nvalues; t++)
		pprof_add_sample_type(b, p->types[2 * t], p->types[2 * t + 1]);
	pprof_set_default_sample_type(b, p->types[2]);
	pprof_set_period(b, p->types[2], p->types[3], period_ns);
	pprof_set_time(b, time_wall_ns, duration_ns);
	if (comment)
		pprof_add_comment(b, comment);
	for (size_t i = 0; i < p->nmaps; i++)
		maps[i] = (struct pprof_map){p->maps[i].start, p->maps[i].limit, p->maps[i].offset,
					     p->maps[i].path, p->maps[i].build_id};
	for (size_t i = 0; i < p->nstacks && rc == 0; i++) {
		const struct stack *s = &p->stacks[i];
		int64_t v[4] = {s->count, s->ns, s->extra[0], s->extra[1]};
		struct pprof_label l = {.key = "thread", .str = p->threads[s->thread]};

		if (!v[0] && !v[1] && !v[2] && !v[3])
			continue; /* interned, never charged */

		if (s->n > cap) {
			cap = s->n * 2;
			fr = xrealloc(fr, cap * sizeof(*fr));
		}
		for (size_t f = 0; f < s->n; f++) {
			const struct pcinfo *e = &p->pcs[p->frames[s->first + f]];
			fr[f] = (struct pprof_frame){
			    e->pc,   e->is_return, e->function,
			    e->file, e->line,	   e->map >= 0 ? &maps[e->map] : NULL};
		}
		rc = pprof_add_stack(b, fr, s->n, v, p->nvalues, &l, 1);
	}
	if (rc == 0)
		rc = pprof_write_file(b, path, err, errlen);
	else
		snprintf(err, errlen, "pprof: adding a sample: %s", strerror(-rc));
	free(fr);
	free(maps);
	pprof_builder_free(b);
	return rc;
}

struct fline {
	char *text;
	int64_t count;
};

static int fline_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fline *)a)->text, ((const struct fline *)b)->text);
}

/* One collapsed line per stack, root first; distinct pcs with the same names merge later. */
static char *folded_line(const perf_profile *p, const struct stack *s)
{
	char *buf = NULL, nb[40];
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	for (size_t k = s->n; k-- > 0;) {
		const char *name = fn_name(&p->pcs[p->frames[s->first + k]], nb, sizeof(nb));
		for (const char *c = name; *c; c++)
			fputc(*c == ';' ? ':' : *c == '\n' ? ' ' : *c, m);
		if (k)
			fputc(';', m);
	}
	fclose(m);
	return buf;
}

int perf_profile_write_folded(const perf_profile *p, const char *path, char *err, size_t errlen)
{
	char *tmp = xasprintf("%s.tmp", path);
	struct fline *lines = xcalloc(p->nstacks + 1, sizeof(*lines));
	FILE *f = fopen(tmp, "we");
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "open %s: %s", tmp, strerror(errno));
		free(lines);
		free(tmp);
		return rc;
	}
	for (size_t i = 0; i < p->nstacks; i++) {
		lines[i].text = folded_line(p, &p->stacks[i]);
		lines[i].count = p->folded_by_value ? p->stacks[i].ns : p->stacks[i].count;
	}
	qsort(lines, p->nstacks, sizeof(*lines), fline_cmp);
	for (size_t i = 0; i < p->nstacks; i++) {
		int64_t count = lines[i].count;

		if (count == 0 && (i + 1 >= p->nstacks || strcmp(lines[i].text, lines[i + 1].text)))
			continue;
		while (i + 1 < p->nstacks && strcmp(lines[i].text, lines[i + 1].text) == 0)
			count += lines[++i].count;
		fprintf(f, "%s %lld\n", lines[i].text, (long long)count);
	}
	for (size_t i = 0; i < p->nstacks; i++)
		free(lines[i].text);
	free(lines);
	if (fflush(f) != 0 || ferror(f))
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}
