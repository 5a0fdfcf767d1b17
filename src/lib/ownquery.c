/* ownquery: a target's own numbers: Prometheus series selectors and expvar paths (pure). */
#include "lib/ownquery.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* Reads a quoted label value with \\, \" and \n escapes; returns the char after it or NULL. */
static const char *quoted(const char *p, const char *end, char *out, size_t cap)
{
	size_t n = 0;
	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end && *p != '"'; p++) {
		char c = *p;
		if (c == '\\' && p + 1 < end) {
			p++;
			c = *p == 'n' ? '\n' : *p;
		}
		if (n + 1 < cap)
			out[n++] = c;
		else
			return NULL;
	}
	if (p >= end)
		return NULL;
	out[n] = '\0';
	return p + 1;
}

static const char *skip_sp(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* A series' labels: a sample line may carry more than a selector may ask for. */
#define SERIES_MAX_LABELS 32
struct series {
	char name[128];
	size_t nlabels;
	struct {
		char key[64];
		char value[128];
	} labels[SERIES_MAX_LABELS];
};

/*
 * Parses NAME{k="v",...} from [p, end) into sel, keeping at most cap labels
 * (more is an error); returns the char after it, or NULL with *why.
 */
static const char *parse_series(const char *p, const char *end, struct series *sel, size_t cap,
				const char **why)
{
	size_t n = 0;

	sel->name[0] = '\0';
	sel->nlabels = 0;
	while (p < end && name_char(*p, n == 0)) {
		if (n + 1 >= sizeof(sel->name)) {
			*why = "the metric name is too long";
			return NULL;
		}
		sel->name[n++] = *p++;
	}
	sel->name[n] = '\0';
	if (n == 0) {
		*why = "expected a metric name like http_requests_total";
		return NULL;
	}
	if (p >= end || *p != '{')
		return p;
	for (p = skip_sp(p + 1, end); p < end && *p != '}';) {
		char key[64], val[128];
		size_t k = 0;
		while (p < end && name_char(*p, k == 0) && *p != ':' && k + 1 < sizeof(key))
			key[k++] = *p++;
		key[k] = '\0';
		p = skip_sp(p, end);
		if (k == 0 || p >= end || *p != '=') {
			*why = "expected label=\"value\" inside {}";
			return NULL;
		}
		p = quoted(skip_sp(p + 1, end), end, val, sizeof(val));
		if (!p) {
			*why = "a label value must be in double quotes";
			return NULL;
		}
		if (sel->nlabels < cap) {
			snprintf(sel->labels[sel->nlabels].key, sizeof(sel->labels[0].key), "%s", key);
			snprintf(sel->labels[sel->nlabels].value, sizeof(sel->labels[0].value), "%s",
				 val);
			sel->nlabels++;
		} else {
			*why = "too many labels";
			return NULL;
		}
		p = skip_sp(p, end);
		if (p < end && *p == ',')
			p = skip_sp(p + 1, end);
	}
	if (p >= end) {
		*why = "missing }";
		return NULL;
	}
	return p + 1;
}

int ownquery_parse_selector(const char *s, struct own_selector *out, const char **why)
{
	const char *end = s + strlen(s);
	struct series tmp;
	const char *p = parse_series(s, end, &tmp, OWNQUERY_MAX_LABELS, why);
	if (!p)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(out->name, tmp.name, sizeof(out->name));
	out->nlabels = tmp.nlabels;
	memcpy(out->labels, tmp.labels, tmp.nlabels * sizeof(out->labels[0]));
	if (skip_sp(p, end) != end) {
		*why = "unexpected text after the selector";
		return -EINVAL;
	}
	return 0;
}

int ownquery_check_selector(const char *s, const char **why)
{
	struct own_selector sel;
	return ownquery_parse_selector(s, &sel, why);
}

int ownquery_check_path(const char *s, const char **why)
{
	if (!*s || *s == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..")) {
		*why = "expected a dotted path like memstats.HeapObjects";
		return -EINVAL;
	}
	return 0;
}

/* The series holds every label equality of sel. */
static bool matches(const struct own_selector *sel, const struct series *series)
{
	if (strcmp(sel->name, series->name) != 0)
		return false;
	for (size_t i = 0; i < sel->nlabels; i++) {
		bool found = false;
		for (size_t j = 0; j < series->nlabels && !found; j++)
			found = !strcmp(sel->labels[i].key, series->labels[j].key) &&
				!strcmp(sel->labels[i].value, series->labels[j].value);
		if (!found)
			return false;
	}
	return true;
}

static bool declares_counter(const char *line, const char *end, const char *name)
{
	size_t nl = strlen(name);
	const char *p = line + strlen("# TYPE ");
	if ((size_t)(end - p) <= nl || memcmp(p, name, nl) != 0 || (p[nl] != ' ' && p[nl] != '\t'))
		return false;
	p = skip_sp(p + nl, end);
	return (size_t)(end - p) >= 7 && memcmp(p, "counter", 7) == 0;
}

int ownquery_prom_value(const char *text, size_t len, const struct own_selector *sel, double *sum,
			bool *counter)
{
	const char *p = text, *end = text + len;
	size_t nl = strlen(sel->name);
	int matched = 0;
	double total = 0;

	*counter = nl > 6 && strcmp(sel->name + nl - 6, "_total") == 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if (eol - p > 7 && memcmp(p, "# TYPE ", 7) == 0 && declares_counter(p, eol, sel->name))
			*counter = true;
		/* Cheap filter: the line must start with the name. */
		if ((size_t)(eol - p) > nl && memcmp(p, sel->name, nl) == 0 &&
		    (p[nl] == '{' || p[nl] == ' ' || p[nl] == '\t')) {
			struct series s;
			const char *why;
			const char *q = parse_series(p, eol, &s, SERIES_MAX_LABELS, &why);
			char num[64];
			if (q && matches(sel, &s)) {
				q = skip_sp(q, eol);
				size_t k = strcspn(q, " \t\n");
				if (k > 0 && k < sizeof(num) && q + k <= eol) {
					memcpy(num, q, k);
					num[k] = '\0';
					char *e;
					double v = strtod(num, &e);
					if (*e == '\0') {
						total += v;
						matched++;
					}
				}
			}
		}
		p = eol + 1;
	}
	if (matched)
		*sum = total;
	return matched;
}

int ownquery_expvar_value(const char *json, size_t len, const char *path, double *out, char *err,
			  size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, 0, &je), *cur;
	char seg[256], parent[256] = "the document";
	const char *p = path;
	int rc = 0;

	if (!root)
		return util_err(err, errlen, -EINVAL, "not JSON: %s (line %d)", je.text, je.line);
	cur = root;
	while (*p) {
		size_t n = strcspn(p, ".");
		snprintf(seg, sizeof(seg), "%.*s", (int)n, p);
		json_t *next = json_is_object(cur) ? json_object_get(cur, seg) : NULL;
		if (!next) {
			rc = util_err(err, errlen, -ENOENT, "no key '%s' in %s", seg, parent);
			goto out;
		}
		snprintf(parent, sizeof(parent), "%.*s", (int)(p + n - path), path);
		cur = next;
		p += n + (p[n] == '.');
	}
	if (json_is_number(cur))
		*out = json_number_value(cur);
	else if (json_is_boolean(cur))
		*out = json_is_true(cur) ? 1 : 0;
	else
		rc = util_err(err, errlen, -EINVAL, "%s is %s, not a number", path,
			      json_is_object(cur)   ? "an object"
			      : json_is_array(cur)  ? "an array"
			      : json_is_string(cur) ? "a string"
						    : "null");
out:
	json_decref(root);
	return rc;
}
