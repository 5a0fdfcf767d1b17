/* test_ownquery: Prometheus selectors and text, expvar paths, table-driven. */
#include <errno.h>
#include <string.h>

#include "lib/ownquery.h"
#include "tap.h"

static const char page[] =
    "# HELP http_requests_total Requests.\n"
    "# TYPE http_requests_total counter\n"
    "http_requests_total{code=\"200\",method=\"get\"} 1027\n"
    "http_requests_total{code=\"200\",method=\"post\"} 3\n"
    "http_requests_total{code=\"500\",method=\"get\"} 12 1700000000000\n"
    "# TYPE queue_depth gauge\n"
    "queue_depth 7.5\n"
    "queue_depth_max 99\n"
    "# TYPE jobs counter\n"
    "jobs{path=\"a \\\"quoted\\\" } value\"} 4\n"
    "odd_line_without_value\n";

static void selectors(void)
{
	static const struct {
		const char *sel;
		int matched;
		double sum;
		bool counter;
		const char *what;
	} cases[] = {
	    {"http_requests_total{code=\"200\"}", 2, 1030, true, "label subset: both 200 series summed"},
	    {"http_requests_total{code=\"200\",method=\"post\"}", 1, 3, true, "two labels"},
	    {"http_requests_total", 3, 1042, true, "no labels: every series"},
	    {"http_requests_total{code=\"500\"}", 1, 12, true, "a timestamp after the value"},
	    {"http_requests_total{code=\"404\"}", 0, 0, true, "no such series"},
	    {"queue_depth", 1, 7.5, false, "a gauge; queue_depth_max is another name"},
	    {"jobs{path=\"a \\\"quoted\\\" } value\"}", 1, 4, true, "escapes and } inside quotes"},
	    {"missing_metric", 0, 0, false, "an absent name"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct own_selector sel;
		const char *why = NULL;
		double sum = -1;
		bool counter = false;
		is_int(ownquery_parse_selector(cases[i].sel, &sel, &why), 0, "%s: parses", cases[i].what);
		int m = ownquery_prom_value(page, strlen(page), &sel, &sum, &counter);
		is_int(m, cases[i].matched, "%s: series matched", cases[i].what);
		if (m)
			is_double(sum, cases[i].sum, 1e-9, "%s: value", cases[i].what);
		if (m)
			ok(counter == cases[i].counter, "%s: counter %d", cases[i].what, cases[i].counter);
	}
	static const struct {
		const char *sel, *why;
	} bad[] = {
	    {"", "expected a metric name like http_requests_total"},
	    {"9x", "expected a metric name like http_requests_total"},
	    {"x{a=b}", "a label value must be in double quotes"},
	    {"x{a=\"b\"", "missing }"},
	    {"x{=\"b\"}", "expected label=\"value\" inside {}"},
	    {"x{a=\"1\"} y", "unexpected text after the selector"},
	    {"x{a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\",h=\"1\",i=\"1\"}", "too many labels"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = "";
		is_int(ownquery_check_selector(bad[i].sel, &why), -EINVAL, "'%s' refused", bad[i].sel);
		is_str(why, bad[i].why, "'%s': the reason", bad[i].sel);
	}
}

static void expvar(void)
{
	const char *doc = "{\"memstats\": {\"HeapObjects\": 4242, \"BySize\": [1, 2]},"
			  " \"cmdline\": [\"a\"], \"up\": true, \"name\": \"x\","
			  " \"a\": {\"b\": {\"c\": 1.5}}}";
	char err[256];
	double v = 0;
	is_int(ownquery_expvar_value(doc, strlen(doc), "memstats.HeapObjects", &v, err, sizeof(err)), 0,
	       "memstats.HeapObjects read");
	is_double(v, 4242, 0, "its value");
	is_int(ownquery_expvar_value(doc, strlen(doc), "a.b.c", &v, err, sizeof(err)), 0, "three levels");
	is_double(v, 1.5, 0, "a.b.c value");
	is_int(ownquery_expvar_value(doc, strlen(doc), "up", &v, err, sizeof(err)), 0, "a boolean");
	is_double(v, 1, 0, "true is 1");
	is_int(ownquery_expvar_value(doc, strlen(doc), "memstats.HeapObjectz", &v, err, sizeof(err)),
	       -ENOENT, "a missing key");
	is_str(err, "no key 'HeapObjectz' in memstats", "says which key and where");
	is_int(ownquery_expvar_value(doc, strlen(doc), "nope.x", &v, err, sizeof(err)), -ENOENT,
	       "a missing first key");
	is_str(err, "no key 'nope' in the document", "at the top");
	is_int(ownquery_expvar_value(doc, strlen(doc), "memstats", &v, err, sizeof(err)), -EINVAL,
	       "an object is not a number");
	is_str(err, "memstats is an object, not a number", "says what it is");
	is_int(ownquery_expvar_value(doc, strlen(doc), "name.x", &v, err, sizeof(err)), -ENOENT,
	       "a path through a string");
	is_int(ownquery_expvar_value("{", 1, "a", &v, err, sizeof(err)), -EINVAL, "broken JSON");
	ok(!strncmp(err, "not JSON: ", 10), "says it is not JSON: %s", err);
	const char *why = "";
	ok(ownquery_check_path("a..b", &why) < 0 && ownquery_check_path(".a", &why) < 0 &&
	       ownquery_check_path("a.", &why) < 0 && ownquery_check_path("", &why) < 0,
	   "empty path parts are refused");
	ok(ownquery_check_path("memstats.HeapObjects", &why) == 0, "a dotted path is fine");
}

int main(void)
{
	selectors();
	expvar();
	return done_testing();
}
