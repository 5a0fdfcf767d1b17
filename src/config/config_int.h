/* config_int: internals shared by the files of the config module (not a public API). */
#ifndef HOUND_CONFIG_INT_H
#define HOUND_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "config/config.h"

#define CFG_MAX_ERRORS 100
/*
 * Deepest nesting of mappings and sequences accepted. hound's schema needs
 * 6; libyaml's loader slows down quadratically with depth (100k levels took
 * over 30 s), so depth is checked first, on the event stream, and a deeper
 * document is refused before it is loaded.
 */
#define CFG_MAX_DEPTH 64
/* Aliases can make a small document expand without bound: cap the nodes we visit. */
#define CFG_MAX_VISITS	 200000
#define CFG_MAX_TARGETS	 1000
#define CFG_MAX_RULES	 100
#define CFG_MAX_CAPTURES 32
#define CFG_MAX_LABELS	 64

struct cfg_err {
	unsigned line, col;
	size_t seq;
	char *msg;
};

/* The state of one load: the document, the key path being read and the errors. */
struct cfg {
	const char *name;
	yaml_document_t doc;
	struct cfg_err *errs;
	size_t nerrs, caperrs, seq;
	bool too_many, summary;
	char path[512];
	size_t pathlen;
	size_t visits;
	bool too_complex;
	struct hound_config *c;
	unsigned flags; /* enum config_load_flag */
};

/* Records "NAME:LINE:COL: PATH: message" at node n (n may be NULL: no position). */
void cfg_error(struct cfg *x, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Key path: push returns a mark for cfg_pop. */
size_t cfg_push(struct cfg *x, const char *key);
size_t cfg_push_index(struct cfg *x, size_t i);
void cfg_pop(struct cfg *x, size_t mark);

/* Returns node id, counting visits; NULL once the document is too complex. */
yaml_node_t *cfg_node(struct cfg *x, int id);
/* "a scalar", "a list" or "a mapping", for messages. */
const char *cfg_node_kind(const yaml_node_t *n);
/* An empty, "~" or "null" plain scalar: a section written with nothing under it. */
bool cfg_is_null(const yaml_node_t *n);

/*
 * Reads mapping n against keys[0..nkeys): vals[i] gets the value of keys[i]
 * or NULL. Reports unknown keys (with a "did you mean"), duplicates and
 * non-scalar keys. A null node reads as an empty mapping. Returns false when n
 * is not a mapping.
 */
bool cfg_map(struct cfg *x, yaml_node_t *n, const char *const *keys, size_t nkeys,
	     yaml_node_t **vals);
/* Items of sequence n (null reads as empty); returns -1 (reported) when n is not a list. */
long cfg_seq(struct cfg *x, yaml_node_t *n, yaml_node_item_t **items);
/* "missing required key 'KEY'" at the mapping n. */
void cfg_missing(struct cfg *x, yaml_node_t *map, const char *key);
/* The closest of cands to s within a small edit distance, or NULL. */
const char *cfg_suggest(const char *s, const char *const *cands, size_t n);

/*
 * Typed scalar readers. key is pushed on the path for messages (NULL: none).
 * Each returns 1 when the value was read, 0 when n is NULL (absent), -1 on
 * an error (reported). Strings are expanded (${VAR}, ${VAR:-default}).
 */
/* Reads a scalar and parses it with parse(); on failure reports "expected WHAT, got 'S'". */
int cfg_typed(struct cfg *x, const char *key, yaml_node_t *n, const char *what,
	      int (*parse)(const char *, void *, const char **), void *out);
int cfg_str(struct cfg *x, const char *key, yaml_node_t *n, char **out);
int cfg_duration(struct cfg *x, const char *key, yaml_node_t *n, int64_t *out);
int cfg_size(struct cfg *x, const char *key, yaml_node_t *n, uint64_t *out);
int cfg_percent(struct cfg *x, const char *key, yaml_node_t *n, double *out);
int cfg_int(struct cfg *x, const char *key, yaml_node_t *n, int *out);
int cfg_bool(struct cfg *x, const char *key, yaml_node_t *n, bool *out);

/* config_scalar.c holds the readers above; config_sections.c: */
void cfg_api(struct cfg *x, yaml_node_t *n);
void cfg_upload(struct cfg *x, yaml_node_t *n);
void cfg_alerts(struct cfg *x, yaml_node_t *n, yaml_node_t *api);
/* Reads a label mapping (name: value) into *out; key names must be [A-Za-z_][A-Za-z0-9_]*. */
void cfg_label_map(struct cfg *x, const char *key, yaml_node_t *n, struct label **out,
		   size_t *nout);
void cfg_free_labels(struct label *l, size_t n);

/* config_target.c */
void cfg_targets(struct cfg *x, yaml_node_t *n);
void cfg_free_target(struct target_conf *t);

/* config_rule.c */
/* [a-z0-9][a-z0-9_-]*, at most 63 characters: names end up in paths and bundle ids. */
bool cfg_name_ok(const char *s);
/* Reads one rule of target t (whose go: has been read) into r. */
void cfg_rule(struct cfg *x, yaml_node_t *n, struct target_conf *t, struct rule_conf *r);
/* Reads a capture list; go says whether Go-only kinds apply (-1: unknown target). */
void cfg_capture_list(struct cfg *x, const char *key, yaml_node_t *n, int go,
		      struct capture_list *out);

#endif
