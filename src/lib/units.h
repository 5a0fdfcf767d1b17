/* units: pure parsers and formatters for sizes, durations, percentages, rates and slopes. */
#ifndef HOUND_UNITS_H
#define HOUND_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Every parser takes a NUL-terminated string, does no I/O and no allocation,
 * and returns 0 or -EINVAL. On -EINVAL, *why (when why is not NULL) points to
 * a short static reason ("unknown unit 'Mb'" is not possible without
 * allocation, so reasons are fixed phrases like "unknown unit") or NULL when
 * the text simply is not of the expected form.
 */

/* "256MiB", "1.5GiB", "10KB" (powers of 10), "4096" or "4096B" (bytes). */
int units_parse_size(const char *s, uint64_t *out, const char **why);
/* "5s", "100ms", "1h30m", "1.5s", "2d", "0". Result in milliseconds. */
int units_parse_duration(const char *s, int64_t *out_ms, const char **why);
/* "25%", "12.5%" -> 25.0, 12.5 (the % sign is required). */
int units_parse_percent(const char *s, double *out, const char **why);
/* "19Hz" or "19" -> 19.0 (must be > 0). */
int units_parse_rate(const char *s, double *out_hz, const char **why);
/* A plain non-negative decimal number ("17", "0.5"). */
int units_parse_number(const char *s, double *out, const char **why);
/* A plain non-negative integer within [0, INT_MAX]. */
int units_parse_int(const char *s, int *out, const char **why);

/* What the quantity of a slope was written in. */
enum units_slope_kind {
	SLOPE_NUMBER,  /* "100/h": a bare number (counts, or bytes) */
	SLOPE_SIZE,    /* "20MiB/h" */
	SLOPE_PERCENT, /* "5%/m" */
};

/*
 * "20MiB/h", "5%/m", "100/h", "1GiB/6h": a quantity per duration. *out is
 * the quantity per second (bytes, percent points or units); *kind says how
 * the quantity was written, so the caller can check it fits the metric.
 */
int units_parse_slope(const char *s, double *out_per_s, enum units_slope_kind *kind,
		      const char **why);

/*
 * Formatters produce the shortest text the matching parser reads back to
 * exactly the same value. buf should hold at least UNITS_FMT_LEN bytes.
 */
#define UNITS_FMT_LEN 48
void units_format_size(uint64_t v, char *buf, size_t len);     /* "2GiB", "1500B" */
void units_format_duration(int64_t ms, char *buf, size_t len); /* "1h30m", "100ms" */
void units_format_number(double v, char *buf, size_t len);     /* "0.25", "17" */
void units_format_percent(double v, char *buf, size_t len);    /* "25%" */
void units_format_slope(double per_s, enum units_slope_kind kind, char *buf, size_t len);

#endif
