/*
 * config_node: the document walker shared by the config readers: error
 * records with file:line:column, the key path, node access with the visit
 * cap, and the checked mapping and list readers. It calls no reader, so the
 * readers (config_scalar, config_sections, config_target, config_rule) and
 * the loader (config.c) all stand above it.
 */
#include "config/config_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* ---- errors and the key path ---------------------------------------------------------- */

void cfg_error(struct cfg *x, const yaml_node_t *n, const char *fmt, ...)
{
	struct cfg_err *e;
	char msg[1024], *where;
	va_list ap;

	if (x->nerrs >= CFG_MAX_ERRORS && !x->summary) {
		x->too_many = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		where = xasprintf("%s:%u:%u: ", x->name, (unsigned)n->start_mark.line + 1,
				  (unsigned)n->start_mark.column + 1);
	else
		where = xasprintf("%s: ", x->name);
	if (x->nerrs == x->caperrs) {
		x->caperrs = x->caperrs ? 2 * x->caperrs : 8;
		x->errs = xrealloc(x->errs, x->caperrs * sizeof(*x->errs));
	}
	e = &x->errs[x->nerrs++];
	e->line = n ? (unsigned)n->start_mark.line + 1 : 0;
	e->col = n ? (unsigned)n->start_mark.column + 1 : 0;
	e->seq = x->seq++;
	e->msg = xasprintf("%s%s%s%s", where, x->path, x->pathlen ? ": " : "", msg);
	free(where);
}

size_t cfg_push(struct cfg *x, const char *key)
{
	size_t mark = x->pathlen;
	int w = snprintf(x->path + x->pathlen, sizeof(x->path) - x->pathlen, "%s%s",
			 x->pathlen ? "." : "", key);
	if (w > 0)
		x->pathlen += (size_t)w;
	if (x->pathlen >= sizeof(x->path))
		x->pathlen = sizeof(x->path) - 1;
	return mark;
}

size_t cfg_push_index(struct cfg *x, size_t i)
{
	size_t mark = x->pathlen;
	int w = snprintf(x->path + x->pathlen, sizeof(x->path) - x->pathlen, "[%zu]", i);
	if (w > 0)
		x->pathlen += (size_t)w;
	if (x->pathlen >= sizeof(x->path))
		x->pathlen = sizeof(x->path) - 1;
	return mark;
}

void cfg_pop(struct cfg *x, size_t mark)
{
	x->pathlen = mark;
	x->path[mark] = '\0';
}

yaml_node_t *cfg_node(struct cfg *x, int id)
{
	if (++x->visits > CFG_MAX_VISITS) {
		x->too_complex = true;
		return NULL;
	}
	return yaml_document_get_node(&x->doc, id);
}

bool cfg_is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null");
}

const char *cfg_node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

const char *cfg_suggest(const char *s, const char *const *cands, size_t n)
{
	size_t best = (size_t)-1, len = strlen(s);
	size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = util_edit_distance(s, cands[i]);
		if (d < best) {
			best = d;
			pick = cands[i];
		}
	}
	return best <= limit ? pick : NULL;
}

void cfg_missing(struct cfg *x, yaml_node_t *map, const char *key)
{
	cfg_error(x, map, "missing required key '%s'", key);
}

bool cfg_map(struct cfg *x, yaml_node_t *n, const char *const *keys, size_t nkeys,
	     yaml_node_t **vals)
{
	yaml_node_t *keynodes[32] = {0};

	for (size_t i = 0; i < nkeys; i++)
		vals[i] = NULL;
	if (cfg_is_null(n))
		return true;
	if (n->type != YAML_MAPPING_NODE) {
		cfg_error(x, n, "expected a mapping, got %s", cfg_node_kind(n));
		return false;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = cfg_node(x, p->key), *v = cfg_node(x, p->value);
		const char *name, *hint;
		size_t i, mark;

		if (!k || !v)
			return false;
		if (k->type != YAML_SCALAR_NODE) {
			cfg_error(x, k, "expected a key name, got %s", cfg_node_kind(k));
			continue;
		}
		name = (const char *)k->data.scalar.value;
		for (i = 0; i < nkeys && strcmp(name, keys[i]) != 0; i++)
			;
		mark = cfg_push(x, name);
		if (i == nkeys) {
			hint = cfg_suggest(name, keys, nkeys);
			if (hint) {
				cfg_error(x, k, "unknown key, did you mean '%s'?", hint);
			} else {
				char list[400];
				size_t off = 0;
				list[0] = '\0';
				for (size_t j = 0; j < nkeys && off < sizeof(list); j++)
					off += (size_t)snprintf(list + off, sizeof(list) - off,
								"%s%s", j ? ", " : "", keys[j]);
				cfg_error(x, k, "unknown key (valid keys: %s)", list);
			}
		} else if (vals[i]) {
			cfg_error(x, k, "duplicate key (first at line %u)",
				  (unsigned)keynodes[i]->start_mark.line + 1);
		} else {
			vals[i] = v;
			keynodes[i] = k;
		}
		cfg_pop(x, mark);
	}
	return true;
}

long cfg_seq(struct cfg *x, yaml_node_t *n, yaml_node_item_t **items)
{
	*items = NULL;
	if (cfg_is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE) {
		cfg_error(x, n, "expected a list, got %s", cfg_node_kind(n));
		return -1;
	}
	*items = n->data.sequence.items.start;
	return n->data.sequence.items.top - n->data.sequence.items.start;
}
