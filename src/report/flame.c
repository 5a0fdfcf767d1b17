/* flame: a pprof profile as a call tree (root first), the data behind the report's flame graphs. */
#include "report/flame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/util.h"

/* Frames past this depth are cut: a hostile profile cannot make the writer recurse without bound.
 */
#define MAX_DEPTH 512
#define NO_NODE	  UINT32_MAX

struct fnode {
	uint32_t name, parent;
	int64_t value, base;
};

struct flame {
	char *type, *unit;
	bool diff;
	/* interned function names */
	char **names;
	size_t nnames, names_cap;
	uint32_t *name_slots; /* open addressing: name id + 1, 0 empty */
	size_t name_slots_cap;
	/* nodes; node 0 is the root */
	struct fnode *nodes;
	size_t nnodes, nodes_cap;
	uint32_t *child_slots; /* open addressing on (parent, name): node id + 1 */
	size_t child_slots_cap;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* splitmix64's finalizer: every input bit reaches the low bits the table masks. */
static uint64_t hash_pair(uint32_t a, uint32_t b)
{
	uint64_t x = (uint64_t)a << 32 | b;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void name_slots_grow(flame *f)
{
	size_t cap = f->name_slots_cap ? f->name_slots_cap * 2 : 256;
	uint32_t *s = xcalloc(cap, sizeof(*s));
	for (size_t i = 0; i < f->nnames; i++) {
		size_t k = hash_str(f->names[i]) & (cap - 1);
		while (s[k])
			k = (k + 1) & (cap - 1);
		s[k] = (uint32_t)i + 1;
	}
	free(f->name_slots);
	f->name_slots = s;
	f->name_slots_cap = cap;
}

static uint32_t intern(flame *f, const char *name)
{
	if (!name || !*name)
		name = "?";
	if (2 * (f->nnames + 1) > f->name_slots_cap)
		name_slots_grow(f);
	size_t k = hash_str(name) & (f->name_slots_cap - 1);
	for (; f->name_slots[k]; k = (k + 1) & (f->name_slots_cap - 1))
		if (!strcmp(f->names[f->name_slots[k] - 1], name))
			return f->name_slots[k] - 1;
	if (f->nnames == f->names_cap) {
		f->names_cap = f->names_cap ? f->names_cap * 2 : 64;
		f->names = xrealloc(f->names, f->names_cap * sizeof(*f->names));
	}
	f->names[f->nnames] = xstrdup(name);
	f->name_slots[k] = (uint32_t)f->nnames + 1;
	return (uint32_t)f->nnames++;
}

static void child_slots_grow(flame *f)
{
	size_t cap = f->child_slots_cap ? f->child_slots_cap * 2 : 1024;
	uint32_t *s = xcalloc(cap, sizeof(*s));
	for (size_t i = 1; i < f->nnodes; i++) {
		size_t k = hash_pair(f->nodes[i].parent, f->nodes[i].name) & (cap - 1);
		while (s[k])
			k = (k + 1) & (cap - 1);
		s[k] = (uint32_t)i + 1;
	}
	free(f->child_slots);
	f->child_slots = s;
	f->child_slots_cap = cap;
}

static uint32_t child(flame *f, uint32_t parent, uint32_t name)
{
	if (2 * (f->nnodes + 1) > f->child_slots_cap)
		child_slots_grow(f);
	size_t k = hash_pair(parent, name) & (f->child_slots_cap - 1);
	for (; f->child_slots[k]; k = (k + 1) & (f->child_slots_cap - 1)) {
		const struct fnode *n = &f->nodes[f->child_slots[k] - 1];
		if (n->parent == parent && n->name == name)
			return f->child_slots[k] - 1;
	}
	if (f->nnodes == f->nodes_cap) {
		f->nodes_cap *= 2;
		f->nodes = xrealloc(f->nodes, f->nodes_cap * sizeof(*f->nodes));
	}
	f->nodes[f->nnodes] = (struct fnode){.name = name, .parent = parent};
	f->child_slots[k] = (uint32_t)f->nnodes + 1;
	return (uint32_t)f->nnodes++;
}

static int value_index(const struct pprof_profile *p, const char *type)
{
	int i = type ? pprof_sample_index(p, type) : -1;
	if (i < 0)
		i = pprof_sample_index(p, "inuse_space");
	if (i < 0 && p->nsample_types > 0)
		i = (int)p->nsample_types - 1;
	return i;
}

/* Adds every sample of p at index ix to the tree, into value or base. */
static void merge(flame *f, const struct pprof_profile *p, int ix, bool into_base)
{
	uint32_t *names = xmalloc((p->nfunctions + 1) * sizeof(*names));
	for (size_t i = 0; i < p->nfunctions; i++)
		names[i] = intern(f, p->functions[i].name);
	for (size_t s = 0; s < p->nsamples; s++) {
		const struct pprof_sample *sm = &p->samples[s];
		int64_t v = sm->values[ix];
		uint32_t node = 0;
		int depth = 0;
		*(into_base ? &f->nodes[0].base : &f->nodes[0].value) += v;
		/* locations are leaf first, and a location's lines innermost first */
		for (size_t k = sm->nlocs; k-- > 0 && depth < MAX_DEPTH;) {
			const struct pprof_location *loc = &p->locations[sm->locs[k]];
			for (size_t l = loc->nlines; l-- > 0 && depth < MAX_DEPTH; depth++) {
				node = child(f, node, names[loc->lines[l].func]);
				*(into_base ? &f->nodes[node].base : &f->nodes[node].value) += v;
			}
		}
	}
	free(names);
}

flame *flame_from_profile(const struct pprof_profile *p, const char *type)
{
	flame *f = xcalloc(1, sizeof(*f));
	int ix = value_index(p, type);
	f->nodes_cap = 256;
	f->nodes = xcalloc(f->nodes_cap, sizeof(*f->nodes));
	f->nodes[0] = (struct fnode){.name = intern(f, "all"), .parent = NO_NODE};
	f->nnodes = 1;
	f->type = xstrdup(ix >= 0 ? p->sample_types[ix].type : "");
	f->unit = xstrdup(ix >= 0 ? p->sample_types[ix].unit : "");
	if (ix >= 0)
		merge(f, p, ix, false);
	return f;
}

int flame_add_base(flame *f, const struct pprof_profile *base)
{
	int ix = pprof_sample_index(base, f->type);
	if (ix < 0)
		return -EINVAL;
	merge(f, base, ix, true);
	f->diff = true;
	return 0;
}

int64_t flame_total(const flame *f)
{
	return f->nodes[0].value;
}

const char *flame_type(const flame *f)
{
	return f->type;
}

const char *flame_unit(const flame *f)
{
	return f->unit;
}

size_t flame_nodes(const flame *f)
{
	return f->nnodes;
}

static int64_t weight(const struct fnode *n)
{
	int64_t v = n->value < 0 ? -n->value : n->value, b = n->base < 0 ? -n->base : n->base;
	return v > b ? v : b;
}

static int cmp_desc(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a < b) - (a > b);
}

struct emit {
	const flame *f;
	uint32_t *first, *next; /* children lists of the kept nodes */
	int64_t min;
};

/* Children are written widest first, the order a reader scans in. */
static int cmp_node_desc(const void *x, const void *y, void *arg)
{
	const flame *f = arg;
	int64_t a = weight(&f->nodes[*(const uint32_t *)x]),
		b = weight(&f->nodes[*(const uint32_t *)y]);
	return (a < b) - (a > b);
}

/* Pre-order, one flat record per node: the JSON stays two levels deep however deep the stacks. */
static void emit_node(const struct emit *e, uint32_t id, int depth, struct json_writer *w)
{
	const struct fnode *n = &e->f->nodes[id];
	json_uint(w, n->name);
	json_int(w, n->value);
	if (e->f->diff)
		json_int(w, n->base);
	json_int(w, depth);
	size_t nk = 0;
	for (uint32_t c = e->first[id]; c != NO_NODE; c = e->next[c])
		nk++;
	if (!nk)
		return;
	uint32_t *kids = xmalloc(nk * sizeof(*kids));
	nk = 0;
	for (uint32_t c = e->first[id]; c != NO_NODE; c = e->next[c])
		kids[nk++] = c;
	qsort_r(kids, nk, sizeof(*kids), cmp_node_desc, (void *)e->f);
	for (size_t i = 0; i < nk; i++)
		emit_node(e, kids[i], depth + 1, w);
	free(kids);
}

char *flame_to_json(const flame *f, unsigned min_share, size_t max_nodes, size_t *len)
{
	struct json_writer jw, *w = &jw;
	json_init(w, false);
	int64_t top = weight(&f->nodes[0]);
	struct emit e = {.f = f, .min = min_share ? top / (int64_t)min_share : 0};
	if (e.min < 1)
		e.min = 1;
	/* A node never outweighs its parent, so a weight cut keeps every kept node's ancestors. */
	if (max_nodes && f->nnodes > max_nodes) {
		int64_t *ws = xmalloc(f->nnodes * sizeof(*ws));
		for (size_t i = 0; i < f->nnodes; i++)
			ws[i] = weight(&f->nodes[i]);
		qsort(ws, f->nnodes, sizeof(*ws), cmp_desc);
		if (ws[max_nodes] + 1 > e.min)
			e.min = ws[max_nodes] + 1;
		free(ws);
	}
	e.first = xmalloc(f->nnodes * sizeof(*e.first));
	e.next = xmalloc(f->nnodes * sizeof(*e.next));
	for (size_t i = 0; i < f->nnodes; i++)
		e.first[i] = e.next[i] = NO_NODE;
	bool *used = xcalloc(f->nnames, sizeof(*used));
	used[f->nodes[0].name] = true;
	for (size_t i = f->nnodes; i-- > 1;) {
		if (weight(&f->nodes[i]) < e.min)
			continue;
		uint32_t p = f->nodes[i].parent;
		e.next[i] = e.first[p];
		e.first[p] = (uint32_t)i;
		used[f->nodes[i].name] = true;
	}
	json_obj_begin(w);
	json_kv_str(w, "type", f->type);
	json_kv_str(w, "unit", f->unit);
	json_kv_int(w, "total", f->nodes[0].value);
	if (f->diff)
		json_kv_int(w, "base_total", f->nodes[0].base);
	json_kv_bool(w, "diff", f->diff);
	/* Names not written stay as empty strings so that indexes hold. */
	json_key(w, "names");
	json_arr_begin(w);
	for (size_t i = 0; i < f->nnames; i++)
		json_str(w, used[i] ? f->names[i] : "");
	json_arr_end(w);
	json_kv_int(w, "stride", f->diff ? 4 : 3);
	json_key(w, "nodes");
	json_arr_begin(w);
	emit_node(&e, 0, 0, w);
	json_arr_end(w);
	json_obj_end(w);
	free(used);
	free(e.first);
	free(e.next);
	return json_take(w, len);
}

void flame_free(flame *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nnames; i++)
		free(f->names[i]);
	free(f->names);
	free(f->name_slots);
	free(f->nodes);
	free(f->child_slots);
	free(f->type);
	free(f->unit);
	free(f);
}
