/* gosummary: goroutines grouped by state and stack, from a debug=2 dump (see gosummary.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "report/gosummary.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/groups.h"
#include "lib/util.h"

/* The function name of a frame line "pkg.fn(args)": up to the last '(' (names may hold parens). */
static size_t func_len(const char *line, size_t n)
{
	for (size_t i = n; i > 0; i--)
		if (line[i - 1] == '(')
			return i - 1;
	return n;
}

/* Prints one group: its size, state, innermost frame outside the runtime, creator. */
static void print_group(FILE *out, const struct group *g, size_t total)
{
	const char *state = g->key, *frames = strchr(state, '\x1f');
	const char *creator = frames ? strchr(frames + 1, '\x1f') : NULL;
	if (!frames || !creator)
		return;
	frames++;
	const char *label = frames, *p = frames;
	while (p < creator) { /* the first frame not in package runtime */
		const char *end = memchr(p, ';', (size_t)(creator - p));
		if (!end)
			end = creator;
		if (strncmp(p, "runtime.", 8) != 0) {
			label = p;
			break;
		}
		p = end + 1;
	}
	const char *lend = memchr(label, ';', (size_t)(creator - label));
	if (!lend)
		lend = creator;
	fprintf(out, "  %6zu %5.1f%%  [%.*s]  %.*s", g->count, 100.0 * (double)g->count / (double)total,
		(int)(frames - 1 - state), state, (int)(lend - label), label);
	if (creator[1])
		fprintf(out, "  (created by %s)", creator + 1);
	fputc('\n', out);
}

int gosummary_print(const char *path, FILE *out, size_t n)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t lcap = 0;
	struct group_keys keys = {0};
	ssize_t len;
	struct util_buf cur = {0}; /* one goroutine: "state\x1fframe;frame;...\x1fcreator" */
	bool in = false, creator = false;

	for (;;) {
		len = getline(&line, &lcap, f);
		bool head = len > 0 && strncmp(line, "goroutine ", 10) == 0;
		if (in && (len < 0 || head || (len == 1 && line[0] == '\n'))) {
			if (!creator)
				util_buf_add(&cur, "\x1f", 1);
			groups_add(&keys, cur.p);
			memset(&cur, 0, sizeof(cur));
			in = false;
		}
		if (len < 0)
			break;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (head) {
			/* "goroutine 7 [chan receive, 5 minutes]:" -> the state without its age */
			const char *s = strchr(line, '[');
			size_t sl = s ? strcspn(s + 1, ",]") : 0;
			util_buf_add(&cur, s ? s + 1 : "?", s ? sl : 1);
			util_buf_add(&cur, "\x1f", 1);
			in = true;
			creator = false;
		} else if (in && strncmp(line, "created by ", 11) == 0) {
			const char *c = line + 11;
			size_t cl = strcspn(c, " ");
			util_buf_add(&cur, "\x1f", 1);
			util_buf_add(&cur, c, cl);
			creator = true;
		} else if (in && !creator && len > 0 && line[0] != '\t') {
			if (cur.p[cur.len - 1] != '\x1f')
				util_buf_add(&cur, ";", 1);
			util_buf_add(&cur, line, func_len(line, (size_t)len));
		}
	}
	free(line);
	fclose(f);
	return groups_print(&keys, out, n, "goroutines", "same state and stack", print_group);
}
