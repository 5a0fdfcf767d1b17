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
 * to the chain as its function name, followed by \x1e when the module is a
 * system one. A frame without a symbol is named by its function start when
 * hound found one (", in module+0xSTART)"), else "?@module+0xOFFSET": two
 * different unnamed functions never look alike, so different chains never
 * merge.
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
		const char *in = strstr(mod, ", in "), *off = strstr(mod, "(offset ");
		if (in) {
			in += 5;
			util_buf_add(b, in, strcspn(in, ")"));
		} else {
			const char *base = strrchr(mod, '/');
			base = base && base < mod + ml ? base + 1 : mod;
			util_buf_add(b, "?@", 2);
			util_buf_add(b, base, ml - (size_t)(base - mod));
			if (off) {
				off += strlen("(offset ");
				util_buf_add(b, "+", 1);
				util_buf_add(b, off, strcspn(off, ",)"));
			}
		}
	}
	if (dash && util_system_module(mod, ml))
		util_buf_add(b, "\x1e", 1);
}

/* One frame of a chain key: its name without the system mark. */
struct frame_tok {
	const char *p;
	size_t len;
	bool sys;
};

/* The next frame of chain at *pos, false at the end. */
static bool next_frame(const char *chain, size_t *pos, struct frame_tok *t)
{
	const char *p = chain + *pos;
	if (!*p)
		return false;
	size_t fl = strcspn(p, ";");
	t->p = p;
	t->sys = fl > 0 && p[fl - 1] == '\x1e';
	t->len = fl - t->sys;
	*pos += fl + (p[fl] == ';');
	return true;
}

static bool chain_has(const char *chain, const struct frame_tok *f)
{
	struct frame_tok t;
	size_t pos = 0;
	while (next_frame(chain, &pos, &t))
		if (t.len == f->len && memcmp(t.p, f->p, t.len) == 0)
			return true;
	return false;
}

/*
 * A group is named by the innermost own (non-system) frame no other group
 * holds, so a helper every group calls (sleep_until) does not hide the
 * culprit (open_session_log): "open_session_log -> sleep_until". Without such
 * a frame, by its innermost own frame; then by the frame it waits in.
 */
static void print_group(FILE *out, const struct group *g, size_t total, const struct group *all,
			size_t nall, void *arg)
{
	struct frame_tok t, leaf = {0}, own = {0}, apart = {0};
	size_t pos = 0;
	bool first = true;

	(void)arg;
	while (next_frame(g->key, &pos, &t)) {
		if (first)
			leaf = t;
		first = false;
		if (t.sys)
			continue;
		if (!own.p)
			own = t;
		bool shared = false;
		for (size_t i = 0; i < nall && !shared; i++)
			shared = &all[i] != g && chain_has(all[i].key, &t);
		if (!shared) {
			apart = t;
			break;
		}
	}
	fprintf(out, "  %6zu %5.1f%%  ", g->count, 100.0 * (double)g->count / (double)total);
	if (apart.p && own.p && apart.p != own.p)
		fprintf(out, "%.*s -> %.*s", (int)apart.len, apart.p, (int)own.len, own.p);
	else if (own.p)
		fprintf(out, "%.*s", (int)own.len, own.p);
	else
		fprintf(out, "%.*s", (int)leaf.len, leaf.p ? leaf.p : "?");
	if (own.p && leaf.p != own.p)
		fprintf(out, "  (in %.*s)", (int)leaf.len, leaf.p);
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
	return groups_print_all(&keys, out, n, "threads", "same call chain", print_group, NULL);
}
