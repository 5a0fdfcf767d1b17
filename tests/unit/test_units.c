/* test_units: the size, duration, percentage, rate and slope parsers and formatters. */
#include <errno.h>
#include <stdint.h>

#include "lib/units.h"
#include "tap.h"

#define ARRAY(a) (sizeof(a) / sizeof((a)[0]))

static void sizes(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
	    {"0", 0},
	    {"4096", 4096},
	    {"4096B", 4096},
	    {"1KiB", 1024},
	    {"256MiB", 256ULL << 20},
	    {"2GiB", 2ULL << 30},
	    {"3TiB", 3ULL << 40},
	    {"1.5GiB", 3ULL << 29},
	    {"10KB", 10000},
	    {"10kB", 10000},
	    {"5MB", 5000000},
	    {"2GB", 2000000000},
	    {"1TB", 1000000000000ULL},
	    {"18446744073709551615", UINT64_MAX},
	};
	static const char *const bad[] = {"",
					  "MiB",
					  "-1",
					  "1.5",
					  "12 MiB",
					  "1mib",
					  "1Mb",
					  "1MiBs",
					  "0x10",
					  "1e",
					  "16EiB",
					  "18446744073709551616",
					  "99999999TiB",
					  " 1",
					  "1,5KiB",
					  "inf",
					  "nan"};
	const char *why;
	uint64_t v;

	for (size_t i = 0; i < ARRAY(good); i++) {
		v = 7;
		is_int(units_parse_size(good[i].s, &v, &why), 0, "size '%s' parses", good[i].s);
		ok(v == good[i].v, "size '%s' = %llu (got %llu)", good[i].s,
		   (unsigned long long)good[i].v, (unsigned long long)v);
	}
	for (size_t i = 0; i < ARRAY(bad); i++)
		is_int(units_parse_size(bad[i], &v, &why), -EINVAL, "size '%s' is rejected",
		       bad[i]);
	units_parse_size("1Mb", &v, &why);
	ok(why && strstr(why, "unknown unit"), "'1Mb' says why: %s", why ? why : "(null)");
	units_parse_size("18446744073709551616", &v, &why);
	is_str(why, "too large", "overflow says too large");
}

static void durations(void)
{
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = {
	    {"0", 0},		{"0s", 0},
	    {"100ms", 100},	{"5s", 5000},
	    {"1.5s", 1500},	{"10m", 600000},
	    {"1h", 3600000},	{"2d", 172800000},
	    {"1h30m", 5400000}, {"1m30s500ms", 90500},
	    {"0.5ms", 1},
	};
	static const char *const bad[] = {"",	"5",	"s",  "5 s",   "5sec", "-1s",
					  "5S", "1h30", "1y", "1e30d", "h1"};
	const char *why;
	int64_t v;

	for (size_t i = 0; i < ARRAY(good); i++) {
		v = -1;
		is_int(units_parse_duration(good[i].s, &v, &why), 0, "duration '%s' parses",
		       good[i].s);
		is_int(v, good[i].ms, "duration '%s' = %lld ms", good[i].s, (long long)good[i].ms);
	}
	for (size_t i = 0; i < ARRAY(bad); i++)
		is_int(units_parse_duration(bad[i], &v, &why), -EINVAL, "duration '%s' is rejected",
		       bad[i]);
	units_parse_duration("5", &v, &why);
	ok(why && strstr(why, "missing unit"), "'5' says the unit is missing");
	units_parse_duration("5sec", &v, &why);
	ok(why && strstr(why, "unknown unit"), "'5sec' says the unit is unknown");
}

static void percents_rates_numbers(void)
{
	const char *why;
	double d;
	int i;

	is_int(units_parse_percent("25%", &d, &why), 0, "25%% parses");
	is_double(d, 25.0, 0, "25%% is 25.0");
	is_int(units_parse_percent("12.5%", &d, &why), 0, "12.5%% parses");
	is_double(d, 12.5, 0, "12.5%% is 12.5");
	is_int(units_parse_percent("180%", &d, &why), 0, "180%% parses");
	is_int(units_parse_percent("25", &d, &why), -EINVAL, "25 without %% is rejected");
	is_int(units_parse_percent("25 %", &d, &why), -EINVAL, "'25 %%' is rejected");
	is_int(units_parse_percent("%", &d, &why), -EINVAL, "'%%' is rejected");
	is_int(units_parse_percent("-5%", &d, &why), -EINVAL, "-5%% is rejected");
	is_int(units_parse_percent("25%%", &d, &why), -EINVAL, "25%%%% is rejected");

	is_int(units_parse_rate("19Hz", &d, &why), 0, "19Hz parses");
	is_double(d, 19, 0, "19Hz is 19");
	is_int(units_parse_rate("99", &d, &why), 0, "99 parses as a rate");
	is_int(units_parse_rate("0Hz", &d, &why), -EINVAL, "0Hz is rejected");
	is_str(why, "must be greater than 0", "0Hz says why");
	is_int(units_parse_rate("19hz", &d, &why), -EINVAL, "19hz is rejected");
	is_int(units_parse_rate("19 Hz", &d, &why), -EINVAL, "'19 Hz' is rejected");

	is_int(units_parse_number("17", &d, &why), 0, "17 parses");
	is_int(units_parse_number("0.25", &d, &why), 0, "0.25 parses");
	is_double(d, 0.25, 0, "0.25");
	is_int(units_parse_number("1e3", &d, &why), 0, "1e3 parses");
	is_double(d, 1000, 0, "1e3 is 1000");
	is_int(units_parse_number("1e999", &d, &why), -EINVAL, "1e999 is out of range");
	is_int(units_parse_number("abc", &d, &why), -EINVAL, "abc is rejected");
	is_int(units_parse_number("", &d, &why), -EINVAL, "empty is rejected");

	is_int(units_parse_int("10", &i, &why), 0, "10 parses as int");
	is_int(i, 10, "10");
	is_int(units_parse_int("2147483647", &i, &why), 0, "INT_MAX parses");
	is_int(units_parse_int("2147483648", &i, &why), -EINVAL, "INT_MAX+1 is rejected");
	is_int(units_parse_int("99999999999999999999", &i, &why), -EINVAL, "huge is rejected");
	is_int(units_parse_int("1.0", &i, &why), -EINVAL, "1.0 is not an int");
	is_int(units_parse_int("-1", &i, &why), -EINVAL, "-1 is not accepted");
}

static void slopes(void)
{
	const char *why;
	double d;
	enum units_slope_kind k;

	is_int(units_parse_slope("20MiB/h", &d, &k, &why), 0, "20MiB/h parses");
	is_double(d, 20.0 * 1048576 / 3600, 1e-9, "20MiB/h in bytes per second");
	is_int(k, SLOPE_SIZE, "20MiB/h is a size slope");
	is_int(units_parse_slope("5%/m", &d, &k, &why), 0, "5%%/m parses");
	is_double(d, 5.0 / 60, 1e-12, "5%%/m in percent per second");
	is_int(k, SLOPE_PERCENT, "5%%/m is a percent slope");
	is_int(units_parse_slope("100/h", &d, &k, &why), 0, "100/h parses");
	is_double(d, 100.0 / 3600, 1e-12, "100/h per second");
	is_int(k, SLOPE_NUMBER, "100/h is a number slope");
	is_int(units_parse_slope("1GiB/6h", &d, &k, &why), 0, "1GiB/6h parses");
	is_double(d, 1073741824.0 / 21600, 1e-9, "1GiB/6h per second");
	is_int(units_parse_slope("20MiB", &d, &k, &why), -EINVAL, "no period is rejected");
	is_int(units_parse_slope("20MiB/", &d, &k, &why), -EINVAL, "empty period is rejected");
	is_int(units_parse_slope("20MiB/hour", &d, &k, &why), -EINVAL, "/hour is rejected");
	is_int(units_parse_slope("20Mb/h", &d, &k, &why), -EINVAL, "20Mb/h is rejected");
	is_int(units_parse_slope("/h", &d, &k, &why), -EINVAL, "/h is rejected");
	is_int(units_parse_slope("5/0s", &d, &k, &why), -EINVAL, "a zero period is rejected");
}

static void formats(void)
{
	char b[UNITS_FMT_LEN];
	static const double nums[] = {0, 1, 0.1, 0.25, 12.5, 1.0 / 3, 1e-9, 123456789.123, 1e300};
	static const double slopes_in[] = {20.0 * 1048576 / 3600, 1.0 / 3, 5.0 / 60, 1234.5678,
					   1e-7};
	static const enum units_slope_kind kinds[] = {SLOPE_SIZE, SLOPE_NUMBER, SLOPE_PERCENT};

	units_format_size(2ULL << 30, b, sizeof(b));
	is_str(b, "2GiB", "2GiB formats");
	units_format_size(16ULL << 20, b, sizeof(b));
	is_str(b, "16MiB", "16MiB formats");
	units_format_size(1500, b, sizeof(b));
	is_str(b, "1500B", "1500 bytes formats");
	units_format_size(0, b, sizeof(b));
	is_str(b, "0", "0 formats");
	units_format_size(3ULL << 29, b, sizeof(b));
	is_str(b, "1536MiB", "1.5GiB formats exactly");

	units_format_duration(5400000, b, sizeof(b));
	is_str(b, "1h30m", "1h30m formats");
	units_format_duration(86400000, b, sizeof(b));
	is_str(b, "1d", "24h formats as 1d");
	units_format_duration(100, b, sizeof(b));
	is_str(b, "100ms", "100ms formats");
	units_format_duration(90500, b, sizeof(b));
	is_str(b, "1m30s500ms", "90.5s formats");
	units_format_duration(0, b, sizeof(b));
	is_str(b, "0s", "0 formats as 0s");

	for (size_t i = 0; i < ARRAY(nums); i++) {
		double back = -1;
		units_format_number(nums[i], b, sizeof(b));
		ok(units_parse_number(b, &back, NULL) == 0 && back == nums[i],
		   "number %.17g round-trips through '%s'", nums[i], b);
		units_format_percent(nums[i], b, sizeof(b));
		ok(units_parse_percent(b, &back, NULL) == 0 && back == nums[i],
		   "percent %.17g round-trips through '%s'", nums[i], b);
	}
	units_format_percent(25, b, sizeof(b));
	is_str(b, "25%", "25%% formats");

	units_format_slope(20.0 * 1048576 / 3600, SLOPE_SIZE, b, sizeof(b));
	is_str(b, "20MiB/h", "20MiB/h formats back as written");
	units_format_slope(5.0 / 60, SLOPE_PERCENT, b, sizeof(b));
	ok(strcmp(b, "5%/m") == 0 || strcmp(b, "300%/h") == 0, "5%%/m formats nicely: %s", b);
	units_format_slope(100.0 / 3600, SLOPE_NUMBER, b, sizeof(b));
	is_str(b, "100/h", "100/h formats back as written");
	for (size_t i = 0; i < ARRAY(slopes_in); i++) {
		for (size_t j = 0; j < ARRAY(kinds); j++) {
			double back = -1;
			enum units_slope_kind k = SLOPE_NUMBER;
			units_format_slope(slopes_in[i], kinds[j], b, sizeof(b));
			ok(units_parse_slope(b, &back, &k, NULL) == 0 && back == slopes_in[i] &&
			       k == kinds[j],
			   "slope %.17g kind %d round-trips through '%s'", slopes_in[i], kinds[j],
			   b);
		}
	}
}

int main(void)
{
	sizes();
	durations();
	percents_rates_numbers();
	slopes();
	formats();
	return done_testing();
}
