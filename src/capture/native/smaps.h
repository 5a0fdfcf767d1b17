/* smaps: a pure parser of /proc/PID/smaps, totals per mapping name, and growth between two snapshots. */
#ifndef HOUND_SMAPS_H
#define HOUND_SMAPS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The mappings of one name summed: a file path (" (deleted)" kept), or a
 * pseudo name: [heap], [stack] ([stack:TID] folded in), [anon] for unnamed
 * mappings, [vdso], [anon:NAME] ... Sizes in kB, as smaps reports them.
 */
struct smaps_entry {
	char *name;
	uint64_t size_kb, rss_kb, anon_kb, swap_kb;
	unsigned mappings;
};

/* Entries sorted by name; owned by the table (smaps_table_fini). */
struct smaps_table {
	struct smaps_entry *e;
	size_t n;
	uint64_t size_kb, rss_kb, anon_kb, swap_kb;  /* over every mapping */
	unsigned mappings;
	unsigned bad_lines;  /* lines that were neither a header nor a field */
};

/*
 * Parses an smaps text (not necessarily NUL-terminated). Hostile or cut-off
 * input never fails the parse: unknown lines are counted in bad_lines and a
 * truncated last mapping keeps the fields it has. Returns 0, or -EINVAL when
 * no mapping header was found at all; out is valid (and must be finied) in
 * both cases. No I/O.
 */
int smaps_parse(const char *buf, size_t len, struct smaps_table *out);
void smaps_table_fini(struct smaps_table *t);

/* How one name changed between two tables; name points into the `now` table. */
struct smaps_growth {
	const char *name;
	int64_t rss_kb, anon_kb;        /* growth (now - base); may be negative */
	uint64_t now_rss_kb, now_anon_kb;
	unsigned mappings;
	int is_new;                     /* absent from the baseline */
};

/*
 * The names whose Rss or Anonymous grew, largest growth (the larger of the
 * two) first. Returns the count; *out is malloc'd, owned by the caller, and
 * valid while `now` is.
 */
size_t smaps_diff(const struct smaps_table *base, const struct smaps_table *now,
		  struct smaps_growth **out);

/*
 * Writes heap.diff.txt's text: a header, one line per grown name (at most
 * max_rows, then a "... N more" line), and a total line. Returns 0 or -EIO.
 */
int smaps_write_diff(FILE *f, const struct smaps_table *base, const struct smaps_table *now,
		     size_t max_rows);

#endif
