/* report_chart: a metric's recent history as a small inline SVG line chart. */
#ifndef HOUND_REPORT_CHART_H
#define HOUND_REPORT_CHART_H

#include <stddef.h>
#include <stdio.h>

struct report_series {
	const double *v; /* n samples, oldest first */
	size_t n;
	double threshold;		    /* NaN: none */
	double avg;			    /* NaN: none */
	int metric;			    /* enum metric_id for the axis labels, or -1 */
	const char *first_time, *last_time; /* axis ends as written in the manifest, or NULL */
};

/* Writes one <svg> element for s to out (nothing when s->n == 0). Text is HTML-escaped. */
void report_chart_svg(FILE *out, const struct report_series *s);

#endif
