/* report_html: one bundle as a self-contained HTML page (inline CSS, script and SVG). */
#ifndef HOUND_REPORT_HTML_H
#define HOUND_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

/*
 * Writes the page for the bundle directory dir to out: why it fired (with
 * the metric's history as a chart), the findings (capture errors, heap
 * growth, busiest functions, goroutine and thread groups, locks, fds), an
 * interactive flame graph for every pprof profile of the bundle (and the
 * heap growth as a differential one), then the files. The page fetches
 * nothing: its Content-Security-Policy forbids every load, and all text from
 * the bundle is escaped. Returns 0, or -errno / -EINVAL with a sentence in
 * err when the manifest cannot be read; a profile that cannot be decoded is
 * reported on the page instead.
 */
int report_html_write(const char *dir, FILE *out, char *err, size_t errlen);

#endif
