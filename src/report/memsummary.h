/* memsummary: what `hound report` says about memory: RSS that is not live data, and the native heap by code. */
#ifndef HOUND_MEMSUMMARY_H
#define HOUND_MEMSUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The fields of /proc/PID/smaps_rollup the report reads, in kB. */
struct memsummary_rollup {
	uint64_t rss_kb, lazyfree_kb, anon_kb;
};

/* Parses smaps_rollup text (Rss, LazyFree, Anonymous). Pure. 0, or -EINVAL without Rss. */
int memsummary_parse_rollup(const char *buf, size_t len, struct memsummary_rollup *out);

/*
 * The one-line explanation when LazyFree (pages freed with MADV_FREE, which
 * the kernel takes back only under pressure) is at least a quarter of RSS
 * and 1 MiB: "RSS 424 MiB, 400 MiB of it LazyFree: ...". Writes "" and
 * returns false otherwise. Pure.
 */
int memsummary_lazyfree_line(const struct memsummary_rollup *r, char *buf, size_t len);

/* memstats.HeapReleased from a Go /debug/vars text, -1 when absent. Pure. */
int64_t memsummary_heap_released(const char *buf, size_t len);

/*
 * Reads smaps_rollup.txt and prints a titled section with the line when
 * there is one; with vars_path (a Go target's vars.json, NULL ok) the line
 * also gives the runtime's HeapReleased, the Go side of the same memory.
 * 0 or -errno.
 */
int memsummary_print_rollup(const char *path, const char *vars_path, FILE *out);

/*
 * Prints the lines of a text file from the first line that starts with
 * marker, at most n lines after it that are not comments (out NULL: only
 * looks for the marker). 0, -ENOENT when the marker is absent, or -errno.
 */
int memsummary_print_section(const char *path, const char *marker, FILE *out, int n);

#endif
