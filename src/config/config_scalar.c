/* config_scalar: ${VAR} expansion and the typed scalar readers of the config loader. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "lib/units.h"
#include "lib/util.h"

static bool var_name_ok(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9')))
			return false;
	}
	return true;
}

/* Expands ${VAR} and ${VAR:-default}; "$${" is a literal "${". NULL on error (reported). */
static char *expand(struct cfg *x, const yaml_node_t *n, const char *s)
{
	struct util_buf b = {0};

	util_buf_add(&b, "", 0);
	while (*s) {
		const char *end, *name, *def = NULL;
		size_t nlen;
		char var[128];
		const char *val;

		if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
			util_buf_add(&b, "${", 2);
			s += 3;
			continue;
		}
		if (!(s[0] == '$' && s[1] == '{')) {
			util_buf_add(&b, s, 1);
			s++;
			continue;
		}
		name = s + 2;
		end = strchr(name, '}');
		if (!end) {
			cfg_error(x, n, "unterminated '${' (write $${ for a literal ${)");
			goto fail;
		}
		nlen = (size_t)(end - name);
		for (size_t i = 0; i + 1 < nlen; i++) {
			if (name[i] == ':' && name[i + 1] == '-') {
				def = name + i + 2;
				nlen = i;
				break;
			}
		}
		if (!var_name_ok(name, nlen) || nlen >= sizeof(var)) {
			cfg_error(x, n, "bad variable reference '%.*s'", (int)(end - s + 1), s);
			goto fail;
		}
		memcpy(var, name, nlen);
		var[nlen] = '\0';
		val = getenv(var);
		if (def && (!val || !*val)) {
			util_buf_add(&b, def, (size_t)(end - def));
		} else if (!val) {
			cfg_error(x, n,
				  "environment variable %s is not set (write ${%s:-default} for a "
				  "default)",
				  var, var);
			goto fail;
		} else {
			util_buf_add(&b, val, strlen(val));
		}
		s = end + 1;
	}
	return b.p;
fail:
	free(b.p);
	return NULL;
}

int cfg_str(struct cfg *x, const char *key, yaml_node_t *n, char **out)
{
	size_t mark;
	char *s;

	if (!n)
		return 0;
	mark = key ? cfg_push(x, key) : x->pathlen;
	if (n->type != YAML_SCALAR_NODE) {
		cfg_error(x, n, "expected a scalar, got %s", cfg_node_kind(n));
		cfg_pop(x, mark);
		return -1;
	}
	s = expand(x, n, (const char *)n->data.scalar.value);
	cfg_pop(x, mark);
	if (!s)
		return -1;
	free(*out);
	*out = s;
	return 1;
}

int cfg_typed(struct cfg *x, const char *key, yaml_node_t *n, const char *what,
	      int (*parse)(const char *, void *, const char **), void *out)
{
	char *s = NULL;
	const char *why = NULL;
	size_t mark;
	int r;

	r = cfg_str(x, key, n, &s);
	if (r <= 0)
		return r;
	if (parse(s, out, &why) < 0) {
		mark = key ? cfg_push(x, key) : x->pathlen;
		cfg_error(x, n, "expected %s, got '%s'%s%s", what, s, why ? ": " : "",
			  why ? why : "");
		cfg_pop(x, mark);
		r = -1;
	}
	free(s);
	return r;
}

static int p_duration(const char *s, void *o, const char **why)
{
	return units_parse_duration(s, o, why);
}
static int p_size(const char *s, void *o, const char **why)
{
	return units_parse_size(s, o, why);
}
static int p_percent(const char *s, void *o, const char **why)
{
	return units_parse_percent(s, o, why);
}
static int p_int(const char *s, void *o, const char **why)
{
	return units_parse_int(s, o, why);
}
static int p_bool(const char *s, void *o, const char **why)
{
	bool *b = o;
	*why = NULL;
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		*b = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		*b = false;
	else
		return -EINVAL;
	return 0;
}

int cfg_duration(struct cfg *x, const char *key, yaml_node_t *n, int64_t *out)
{
	return cfg_typed(x, key, n, "a duration like 5s", p_duration, out);
}
int cfg_size(struct cfg *x, const char *key, yaml_node_t *n, uint64_t *out)
{
	return cfg_typed(x, key, n, "a size like 256MiB", p_size, out);
}
int cfg_percent(struct cfg *x, const char *key, yaml_node_t *n, double *out)
{
	return cfg_typed(x, key, n, "a percentage like 25%", p_percent, out);
}
int cfg_int(struct cfg *x, const char *key, yaml_node_t *n, int *out)
{
	return cfg_typed(x, key, n, "a whole number", p_int, out);
}
int cfg_bool(struct cfg *x, const char *key, yaml_node_t *n, bool *out)
{
	return cfg_typed(x, key, n, "true or false", p_bool, out);
}
