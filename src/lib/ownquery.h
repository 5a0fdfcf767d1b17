/* ownquery: a target's own numbers: Prometheus series selectors and expvar paths (pure). */
#ifndef HOUND_OWNQUERY_H
#define HOUND_OWNQUERY_H

#include <stdbool.h>
#include <stddef.h>

#define OWNQUERY_MAX_LABELS 8

/* NAME{key="value",...}: a metric name and label equalities, all of which must hold. */
struct own_selector {
	char name[128];
	size_t nlabels;
	struct {
		char key[64];
		char value[128];
	} labels[OWNQUERY_MAX_LABELS];
};

/* Parses a selector. Returns 0, or -EINVAL with *why a short reason. */
int ownquery_parse_selector(const char *s, struct own_selector *out, const char **why);
/* Checks a selector / an expvar path ("memstats.HeapObjects"); 0 or -EINVAL with *why. */
int ownquery_check_selector(const char *s, const char **why);
int ownquery_check_path(const char *s, const char **why);

/*
 * The sum of every sample line of Prometheus text matching sel; *counter
 * says whether `# TYPE NAME counter` declared it (or its name ends in
 * _total). Returns the number of series matched (0: none, *sum untouched).
 */
int ownquery_prom_value(const char *text, size_t len, const struct own_selector *sel, double *sum,
			bool *counter);

/*
 * The number at path in an expvar JSON document. Returns 0, or -ENOENT /
 * -EINVAL with a sentence in err ("no key 'HeapObjectz' in memstats", "memstats
 * is an object, not a number", "not JSON: ...").
 */
int ownquery_expvar_value(const char *json, size_t len, const char *path, double *out, char *err,
			  size_t errlen);

#endif
