/* units: pure parsers and formatters for sizes, durations, percentages, rates and slopes. */
#include "lib/units.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KI 1024.0
#define MI (1024.0 * 1024.0)
#define GI (1024.0 * 1024.0 * 1024.0)
#define TI (1024.0 * 1024.0 * 1024.0 * 1024.0)

static const struct {
	const char *name;
	double mult;
} size_units[] = {
    {"TiB", TI}, {"GiB", GI}, {"MiB", MI}, {"KiB", KI}, {"TB", 1e12},
    {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1},
};

static const struct {
	const char *name;
	double ms;
} time_units[] = {
    /* "ms" before "m" so the longer unit wins. */
    {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3},
};

static void set_why(const char **why, const char *reason)
{
	if (why)
		*why = reason;
}

/*
 * Scans a non-negative decimal number (digits, optional fraction, optional
 * exponent) at s. Returns the number of characters used, 0 when there is no
 * number, or -1 when it does not fit a double.
 */
static int scan_number(const char *s, double *v)
{
	size_t i = 0;
	char tmp[64];

	if (s[0] < '0' || s[0] > '9')
		return 0;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (s[i] == 'e' || s[i] == 'E') {
		size_t j = i + 1;
		if (s[j] == '+' || s[j] == '-')
			j++;
		if (s[j] >= '0' && s[j] <= '9') {
			while (s[j] >= '0' && s[j] <= '9')
				j++;
			i = j;
		}
	}
	if (i >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, i);
	tmp[i] = '\0';
	*v = strtod(tmp, NULL);
	if (!isfinite(*v))
		return -1;
	return (int)i;
}

/*
 * The number a value starts with: its length (> 0), or -EINVAL when there is
 * none or it does not fit a double (why says so; why is already cleared).
 */
static int leading_number(const char *s, double *v, const char **why)
{
	int n = scan_number(s, v);
	if (n < 0)
		set_why(why, "number out of range");
	return n > 0 ? n : -EINVAL;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

static int size_unit(const char *u, double *mult)
{
	if (*u == '\0') {
		*mult = 1;
		return 0;
	}
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		if (strcmp(u, size_units[i].name) == 0) {
			*mult = size_units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

int units_parse_size(const char *s, uint64_t *out, const char **why)
{
	double v, mult;
	int n;

	set_why(why, NULL);
	n = leading_number(s, &v, why);
	if (n < 0)
		return -EINVAL;
	if (size_unit(s + n, &mult) < 0) {
		set_why(why, "unknown unit (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)");
		return -EINVAL;
	}
	if (all_digits(s, (size_t)n)) {
		/* Integers stay exact, even beyond 2^53. */
		unsigned long long i;
		errno = 0;
		i = strtoull(s, NULL, 10);
		if (errno == ERANGE || (mult > 1 && (double)i * mult >= 18446744073709551616.0)) {
			set_why(why, "too large");
			return -EINVAL;
		}
		*out = (uint64_t)i * (uint64_t)mult;
		return 0;
	}
	if (mult == 1) {
		set_why(why, "a byte count is a whole number");
		return -EINVAL;
	}
	v = v * mult;
	if (v >= 18446744073709551616.0) {
		set_why(why, "too large");
		return -EINVAL;
	}
	*out = (uint64_t)(v + 0.5);
	return 0;
}

/* Matches a time unit at s; returns its length or 0. */
static size_t time_unit(const char *s, double *ms)
{
	for (size_t i = 0; i < sizeof(time_units) / sizeof(time_units[0]); i++) {
		size_t l = strlen(time_units[i].name);
		if (strncmp(s, time_units[i].name, l) == 0) {
			*ms = time_units[i].ms;
			return l;
		}
	}
	return 0;
}

int units_parse_duration(const char *s, int64_t *out_ms, const char **why)
{
	double total = 0;
	const char *p = s;

	set_why(why, NULL);
	if (strcmp(s, "0") == 0) {
		*out_ms = 0;
		return 0;
	}
	if (*p == '\0')
		return -EINVAL;
	while (*p) {
		double v, ms;
		size_t ul;
		int n = scan_number(p, &v);
		if (n < 0) {
			set_why(why, "number out of range");
			return -EINVAL;
		}
		if (n == 0) {
			if (p != s)
				set_why(why, "unknown unit (use ms, s, m, h or d)");
			return -EINVAL;
		}
		p += n;
		ul = time_unit(p, &ms);
		if (ul == 0) {
			set_why(why, *p ? "unknown unit (use ms, s, m, h or d)"
					: "missing unit (use ms, s, m, h or d)");
			return -EINVAL;
		}
		p += ul;
		total += v * ms;
	}
	if (total >= 9.2e18) {
		set_why(why, "too large");
		return -EINVAL;
	}
	*out_ms = (int64_t)llround(total);
	return 0;
}

int units_parse_number(const char *s, double *out, const char **why)
{
	double v;
	int n;

	set_why(why, NULL);
	n = leading_number(s, &v, why);
	if (n < 0 || s[n] != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int units_parse_int(const char *s, int *out, const char **why)
{
	size_t n = strlen(s);
	long long v;

	set_why(why, NULL);
	if (!all_digits(s, n))
		return -EINVAL;
	if (n > 10) {
		set_why(why, "too large");
		return -EINVAL;
	}
	v = strtoll(s, NULL, 10);
	if (v > INT_MAX) {
		set_why(why, "too large");
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

int units_parse_percent(const char *s, double *out, const char **why)
{
	double v;
	int n;

	set_why(why, NULL);
	n = leading_number(s, &v, why);
	if (n < 0 || s[n] != '%' || s[n + 1] != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int units_parse_rate(const char *s, double *out_hz, const char **why)
{
	double v;
	int n;

	set_why(why, NULL);
	n = leading_number(s, &v, why);
	if (n < 0 || (s[n] != '\0' && strcmp(s + n, "Hz") != 0))
		return -EINVAL;
	if (v <= 0) {
		set_why(why, "must be greater than 0");
		return -EINVAL;
	}
	*out_hz = v;
	return 0;
}

int units_parse_slope(const char *s, double *out_per_s, enum units_slope_kind *kind,
		      const char **why)
{
	const char *slash = strrchr(s, '/');
	char q[64];
	size_t ql;
	double v, mult = 1;
	int64_t per_ms;
	int n;

	set_why(why, NULL);
	if (!slash)
		return -EINVAL;
	ql = (size_t)(slash - s);
	if (ql == 0 || ql >= sizeof(q))
		return -EINVAL;
	memcpy(q, s, ql);
	q[ql] = '\0';
	n = leading_number(q, &v, why);
	if (n < 0)
		return -EINVAL;
	if (q[n] == '\0') {
		*kind = SLOPE_NUMBER;
	} else if (strcmp(q + n, "%") == 0) {
		*kind = SLOPE_PERCENT;
	} else if (size_unit(q + n, &mult) == 0) {
		*kind = SLOPE_SIZE;
	} else {
		set_why(why, "unknown unit before '/'");
		return -EINVAL;
	}
	if (slash[1] >= '0' && slash[1] <= '9') {
		if (units_parse_duration(slash + 1, &per_ms, why) < 0)
			return -EINVAL;
	} else {
		double ms;
		size_t ul = time_unit(slash + 1, &ms);
		if (ul == 0 || slash[1 + ul] != '\0') {
			set_why(why, "unknown unit after '/' (use ms, s, m, h or d)");
			return -EINVAL;
		}
		per_ms = (int64_t)ms;
	}
	if (per_ms <= 0) {
		set_why(why, "the period must be greater than 0");
		return -EINVAL;
	}
	*out_per_s = v * mult / ((double)per_ms / 1000.0);
	return 0;
}

void units_format_size(uint64_t v, char *buf, size_t len)
{
	static const struct {
		const char *name;
		uint64_t mult;
	} u[] = {
	    {"TiB", 1ULL << 40}, {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}};

	if (v == 0) {
		snprintf(buf, len, "0");
		return;
	}
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (v % u[i].mult == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(v / u[i].mult),
				 u[i].name);
			return;
		}
	}
	snprintf(buf, len, "%lluB", (unsigned long long)v);
}

void units_format_duration(int64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *name;
		int64_t ms;
	} u[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
	size_t off = 0;

	if (ms <= 0) {
		snprintf(buf, len, "0s");
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]) && off < len; i++) {
		if (ms >= u[i].ms) {
			int w = snprintf(buf + off, len - off, "%lld%s", (long long)(ms / u[i].ms),
					 u[i].name);
			if (w < 0)
				return;
			off += (size_t)w;
			ms %= u[i].ms;
		}
	}
}

void units_format_number(double v, char *buf, size_t len)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

void units_format_percent(double v, char *buf, size_t len)
{
	size_t l;

	units_format_number(v, buf, len);
	l = strlen(buf);
	if (l + 1 < len) {
		buf[l] = '%';
		buf[l + 1] = '\0';
	}
}

void units_format_slope(double per_s, enum units_slope_kind kind, char *buf, size_t len)
{
	static const struct {
		const char *name;
		double s;
	} periods[] = {{"h", 3600}, {"m", 60}, {"s", 1}, {"d", 86400}};
	static const struct {
		const char *name;
		double mult;
	} sizes[] = {{"GiB", GI}, {"MiB", MI}, {"KiB", KI}, {"B", 1}};
	const char *pct = kind == SLOPE_PERCENT ? "%" : "";
	size_t nsizes = kind == SLOPE_SIZE ? sizeof(sizes) / sizeof(sizes[0]) : 1;

	for (size_t p = 0; p < sizeof(periods) / sizeof(periods[0]); p++) {
		for (size_t u = 0; u < nsizes; u++) {
			const char *uname = kind == SLOPE_SIZE ? sizes[u].name : pct;
			double mult = kind == SLOPE_SIZE ? sizes[u].mult : 1;
			double q = per_s * periods[p].s / mult, back;
			enum units_slope_kind k;

			if (kind == SLOPE_SIZE && q < 1 && u + 1 < nsizes)
				continue;
			snprintf(buf, len, "%.15g%s/%s", q, uname, periods[p].name);
			if (units_parse_slope(buf, &back, &k, NULL) == 0 && back == per_s)
				return;
		}
	}
	/* Exact fallback: 17 significant digits per second always reads back. */
	snprintf(buf, len, "%.17g%s/s", per_s, kind == SLOPE_SIZE ? "B" : pct);
}
