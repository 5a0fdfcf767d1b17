/* stacksummary: threads grouped by call chain, from a stacks.txt (see stacksummary.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "report/stacksummary.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/groups.h"
#include "lib/util.h"

/*
 * Appends a frame line "#3  0x00007f... name - /path/module [(offset ...)]"
 * to the chain as its function name ("?@module" when unnamed), followed by
 * \x1e when the module is a system one.
 */
static void add_frame(struct util_buf *b, const char *line)
{
	const char *p = line + strcspn(line, " ");
	p += strspn(p, " ");  /* the address */
	p += strcspn(p, " "); /* past it: " name - module" or " - module" */
	const char *dash = strstr(p, " - ");
	p += strspn(p, " ");
	const char *mod = dash ? dash + 3 : "";
	size_t ml = strcspn(mod, " ");
	if (b->len)
		util_buf_add(b, ";", 1);
	if (dash && dash > p) {
		util_buf_add(b, p, (size_t)(dash - p));
	} else {
		const char *base = strrchr(mod, '/');
		base = base && base < mod + ml ? base + 1 : mod;
		util_buf_add(b, "?@", 2);
		util_buf_add(b, base, ml - (size_t)(base - mod));
	}
	if (dash && util_system_module(mod, ml))
		util_buf_add(b, "\x1e", 1);
}

static void print_group(FILE *out, const struct group *g, size_t total)
{
	const char *chain = g->key, *label = NULL, *leaf = chain;
	size_t label_len = 0, leaf_len = strcspn(chain, ";\x1e");
	for (const char *p = chain; *p;) {
		size_t fl = strcspn(p, ";");
		bool sys = fl > 0 && p[fl - 1] == '\x1e';
		if (!sys && !label) {
			label = p;
			label_len = fl;
		}
		p += fl + (p[fl] == ';');
	}
	fprintf(out, "  %6zu %5.1f%%  %.*s", g->count, 100.0 * (double)g->count / (double)total,
		(int)(label ? label_len : leaf_len), label ? label : leaf);
	if (label && label != leaf)
		fprintf(out, "  (in %.*s)", (int)leaf_len, leaf);
	fputc('\n', out);
}

int stacksummary_print(const char *path, FILE *out, size_t n)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t lcap = 0;
	struct group_keys keys = {0};
	ssize_t len;
	struct util_buf cur = {0};
	bool in = false;

	for (;;) {
		len = getline(&line, &lcap, f);
		bool head = len > 0 && strncmp(line, "TID ", 4) == 0;
		if (in && (len < 0 || head || strncmp(line, "PID ", 4) == 0)) {
			if (!cur.p)
				util_buf_add(&cur, "?", 1); /* a thread with no frame (an error line) */
			groups_add(&keys, cur.p);
			memset(&cur, 0, sizeof(cur));
			in = false;
		}
		if (len < 0)
			break;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (head) {
			in = true;
		} else if (in && line[0] == '#') {
			add_frame(&cur, line);
		}
	}
	free(line);
	fclose(f);
	return groups_print(&keys, out, n, "threads", "same call chain", print_group);
}
