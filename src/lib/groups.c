/* groups: counting equal strings and printing the largest groups (for the report's summaries). */
#include "lib/groups.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int by_count(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

void groups_add(struct group_keys *k, char *key)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 256;
		k->keys = xrealloc(k->keys, k->cap * sizeof(*k->keys));
	}
	k->keys[k->n++] = key;
}

/* Adapts a plain printer to groups_print_all. */
struct plain {
	void (*print)(FILE *out, const struct group *g, size_t total);
};

static void print_plain(FILE *out, const struct group *g, size_t total, const struct group *all,
			size_t nall, void *arg)
{
	(void)all;
	(void)nall;
	((struct plain *)arg)->print(out, g, total);
}

int groups_print(struct group_keys *k, FILE *out, size_t n, const char *what, const char *how,
		 void (*print)(FILE *out, const struct group *g, size_t total))
{
	struct plain pl = {print};
	return groups_print_all(k, out, n, what, how, print_plain, &pl);
}

int groups_print_all(struct group_keys *k, FILE *out, size_t n, const char *what, const char *how,
		     void (*print)(FILE *out, const struct group *g, size_t total,
				   const struct group *all, size_t nall, void *arg),
		     void *arg)
{
	int rc = -EINVAL;
	if (k->n > 0) {
		struct group *g = xcalloc(k->n, sizeof(*g));
		size_t ng = 0;
		qsort(k->keys, k->n, sizeof(*k->keys), cmp_str);
		for (size_t i = 0; i < k->n; i++) {
			if (ng && strcmp(g[ng - 1].key, k->keys[i]) == 0)
				g[ng - 1].count++;
			else
				g[ng++] = (struct group){k->keys[i], 1};
		}
		qsort(g, ng, sizeof(*g), by_count);
		fprintf(out, "  %zu %s in %zu groups (%s)\n", k->n, what, ng, how);
		for (size_t i = 0; i < n && i < ng; i++)
			print(out, &g[i], k->n, g, ng, arg);
		free(g);
		rc = 0;
	}
	for (size_t i = 0; i < k->n; i++)
		free(k->keys[i]);
	free(k->keys);
	memset(k, 0, sizeof(*k));
	return rc;
}
