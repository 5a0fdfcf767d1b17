/* report_chart: a metric's recent history as a small inline SVG line chart. */
#include "report/report_chart.h"

#include <math.h>

#include "lib/metric.h"
#include "report/html.h"

#define W    640
#define H    170
#define PADL 70
#define PADR 12
#define PADT 12
#define PADB 26

static void label(const struct report_series *s, double v, char *buf, unsigned len)
{
	if (s->metric >= 0)
		metric_format((enum metric_id)s->metric, v, buf, len);
	else
		snprintf(buf, len, "%g", v);
}

static double ypos(double v, double lo, double hi)
{
	return PADT + (H - PADT - PADB) * (1.0 - (v - lo) / (hi - lo));
}

static void hline(FILE *out, const struct report_series *s, double v, double lo, double hi,
		  const char *colour, const char *name)
{
	char b[48];
	if (isnan(v) || v < lo || v > hi)
		return;
	double y = ypos(v, lo, hi);
	label(s, v, b, sizeof(b));
	fprintf(
	    out,
	    "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
	    "stroke-dasharray=\"5 4\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"%s\">",
	    PADL, W - PADR, y, y, colour, W - PADR, y - 3, colour);
	fprintf(out, "%s ", name);
	html_escape(out, b);
	fputs("</text>", out);
}

void report_chart_svg(FILE *out, const struct report_series *s)
{
	char b[48];
	if (s->n == 0)
		return;
	double lo = s->v[0], hi = s->v[0];
	for (size_t i = 0; i < s->n; i++) {
		if (isfinite(s->v[i]) && s->v[i] < lo)
			lo = s->v[i];
		if (isfinite(s->v[i]) && s->v[i] > hi)
			hi = s->v[i];
	}
	if (isfinite(s->threshold) && s->threshold > hi)
		hi = s->threshold;
	if (isfinite(s->avg) && s->avg < lo)
		lo = s->avg;
	if (!isfinite(lo) || !isfinite(hi))
		return;
	if (lo > 0 && lo < hi * 0.5)
		lo = 0; /* small values start from zero, so a jump reads as one */
	if (hi - lo < 1e-9 * (fabs(hi) + 1))
		hi = lo + 1, lo = lo - 1;
	double pad = (hi - lo) * 0.08;
	hi += pad;
	lo = lo - pad < 0 && lo >= 0 ? 0 : lo - pad;

	fprintf(
	    out,
	    "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" role=\"img\">",
	    W, H, W, H);
	fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#bbb\"/>", PADL, PADL,
		PADT, H - PADB);
	label(s, hi, b, sizeof(b));
	fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", PADL - 4, PADT + 8);
	html_escape(out, b);
	label(s, lo, b, sizeof(b));
	fprintf(out, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">", PADL - 4, H - PADB);
	html_escape(out, b);
	fputs("</text>", out);
	hline(out, s, s->avg, lo, hi, "#2a7", "avg");
	hline(out, s, s->threshold, lo, hi, "#c33", "threshold");

	double step = s->n > 1 ? (double)(W - PADL - PADR) / (double)(s->n - 1) : 0;
	fputs("<polyline fill=\"none\" stroke=\"#36c\" stroke-width=\"2\" points=\"", out);
	for (size_t i = 0; i < s->n; i++)
		if (isfinite(s->v[i]))
			fprintf(out, "%s%.1f,%.1f", i ? " " : "", PADL + step * (double)i,
				ypos(s->v[i], lo, hi));
	fputs("\"/>", out);
	/* the last sample is the one that fired: a dot with its value */
	double lx = PADL + step * (double)(s->n - 1), ly = ypos(s->v[s->n - 1], lo, hi);
	if (isfinite(s->v[s->n - 1])) {
		label(s, s->v[s->n - 1], b, sizeof(b));
		fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#36c\"><title>", lx,
			ly);
		html_escape(out, b);
		fputs("</title></circle>", out);
	}
	if (s->first_time) {
		fprintf(out, "<text x=\"%d\" y=\"%d\">", PADL, H - 8);
		html_escape(out, s->first_time);
		fputs("</text>", out);
	}
	if (s->last_time && s->n > 1) {
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", W - PADR, H - 8);
		html_escape(out, s->last_time);
		fputs("</text>", out);
	}
	fputs("</svg>\n", out);
}
