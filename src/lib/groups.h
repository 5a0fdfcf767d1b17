/* groups: counting equal strings and printing the largest groups (for the report's summaries). */
#ifndef HOUND_GROUPS_H
#define HOUND_GROUPS_H

#include <stddef.h>
#include <stdio.h>

/* The keys collected so far, one per item (a thread, a goroutine). */
struct group_keys {
	char **keys;
	size_t n, cap;
};

struct group {
	const char *key;
	size_t count;
};

/* Adds one item's key; the collection takes ownership of key. */
void groups_add(struct group_keys *k, char *key);

/*
 * Counts equal keys and prints "  N WHAT in M groups (HOW)" and then the n
 * largest groups (ties by key), each with print(out, group, N). Frees the
 * keys. Returns 0, or -EINVAL with nothing printed when there is no key.
 */
int groups_print(struct group_keys *k, FILE *out, size_t n, const char *what, const char *how,
		 void (*print)(FILE *out, const struct group *g, size_t total));

/*
 * The same, with every group (largest first) passed to print, for labels that
 * depend on what the other groups hold; arg is passed through.
 */
int groups_print_all(struct group_keys *k, FILE *out, size_t n, const char *what, const char *how,
		     void (*print)(FILE *out, const struct group *g, size_t total,
				   const struct group *all, size_t nall, void *arg),
		     void *arg);

#endif
