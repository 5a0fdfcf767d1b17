/* Unit tests: /debug/vars scanner, the GC pause ring, and the streaming Prometheus counter. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/gometrics.h"
#include "lib/util.h"
#include "tap.h"

#define FIX TOP_SRCDIR "/tests/fixtures/go/"

static void test_vars(void)
{
	char *buf, err[256] = "";
	size_t len;
	static struct go_memstats m;
	if (util_read_file(FIX "vars.json", &buf, &len, 1 << 20) < 0) {
		ok(0, "read vars.json");
		return;
	}
	is_int(gometrics_parse_vars(buf, len, &m, err, sizeof(err)), 0, "parse expvar output (%s)",
	       err);
	is_int(m.heap_inuse, 28016640, "HeapInuse");
	is_int(m.heap_alloc, 27307160, "HeapAlloc");
	is_int(m.heap_released, 884736, "HeapReleased");
	is_int(m.num_gc, 9, "NumGC");
	is_double(m.gc_cpu_fraction, 0.00029059916056470915, 1e-15, "GCCPUFraction");
	is_int(m.last_gc, 1795297749151058889LL, "LastGC");
	is_int(m.next_gc, 52117544, "NextGC");
	is_double(gometrics_heap_live(&m, 100), 52117544 / 2.0, 1e-6, "heap_live: the goal over 1 + GOGC/100");
	is_double(gometrics_heap_live(&m, 50), 52117544 / 1.5, 1e-6, "GOGC=50");
	is_double(gometrics_heap_live(&m, -1), -1, 0, "GOGC=off: no goal, no estimate");
	ok(m.have & GO_MS_PAUSE, "both rings");
	is_int(m.pause_ns[(9 + 255) % 256], 58538, "latest pause");
	is_double(gometrics_gc_pause(&m, false, 0, 0), 67345e-9, 1e-12,
		  "first sample, everything in the window: the longest");
	is_double(gometrics_gc_pause(&m, true, 8, 0), 58538e-9, 1e-12, "one new GC: its pause");
	is_double(gometrics_gc_pause(&m, true, 9, 0), 0, 0, "no new GC: 0");
	is_double(gometrics_gc_pause(&m, false, 0, m.last_gc + 1), 0, 0,
		  "first sample, nothing ended in the window: 0");

	/* each prefix is malformed, never a crash */
	int bad = 0;
	for (size_t n = 0; n + 1 < len; n++)
		bad += gometrics_parse_vars(buf, n, &m, err, sizeof(err)) == -EINVAL;
	is_int(bad, (long long)len - 1, "every truncation is -EINVAL");
	free(buf);

	const char *no_ms = "{\"cmdline\": [\"x\"], \"other\": {\"a\": [1, 2, {\"b\": null}]}}";
	is_int(gometrics_parse_vars(no_ms, strlen(no_ms), &m, err, sizeof(err)), -EINVAL,
	       "no memstats");
	ok(strstr(err, "memstats") != NULL, "error names memstats: %s", err);
	char deep[400];
	memset(deep, '[', 200);
	memset(deep + 200, ']', 200);
	char doc[500];
	snprintf(doc, sizeof(doc), "{\"x\": %.*s}", 400, deep);
	is_int(gometrics_parse_vars(doc, strlen(doc), &m, err, sizeof(err)), -EINVAL,
	       "nesting deeper than the limit");
	const char *esc = "{\"k\\\"ey\": \"a\\\\\\\"}\", \"memstats\": {\"HeapInuse\": 5, "
			  "\"BySize\": [{\"Size\": 0}], \"PauseNs\": [1,2], \"PauseEnd\": [3,4], "
			  "\"NumGC\": 2, \"GCCPUFraction\": 1.5e-2}}";
	is_int(gometrics_parse_vars(esc, strlen(esc), &m, err, sizeof(err)), 0,
	       "escaped quotes in keys and strings (%s)", err);
	is_int(m.heap_inuse, 5, "value after escapes");
	is_double(m.gc_cpu_fraction, 0.015, 1e-12, "exponent form");
	const char *ring257 = "{\"memstats\": {\"PauseNs\": [";
	char *big = xmalloc(4096);
	size_t off = (size_t)snprintf(big, 4096, "%s", ring257);
	for (int i = 0; i < 257; i++)
		off += (size_t)snprintf(big + off, 4096 - off, "%s1", i ? "," : "");
	off += (size_t)snprintf(big + off, 4096 - off, "]}}");
	is_int(gometrics_parse_vars(big, off, &m, err, sizeof(err)), -EINVAL, "ring of 257");
	free(big);
}

static void test_ring(void)
{
	static struct go_memstats m;
	memset(&m, 0, sizeof(m));
	m.have = GO_MS_PAUSE | GO_MS_NUM_GC;
	/* 300 GCs: GC k sits at (k+255)%256, so GCs 45..300 are in the ring */
	m.num_gc = 300;
	for (uint64_t k = 45; k <= 300; k++) {
		m.pause_ns[(k + 255) % 256] = k * 10;
		m.pause_end[(k + 255) % 256] = k * 1000;
	}
	m.pause_ns[(290 + 255) % 256] = 99999; /* GC 290, before the window */
	m.pause_ns[(295 + 255) % 256] = 5000;  /* GC 295, inside */
	is_double(gometrics_gc_pause(&m, true, 291, 0), 5000e-9, 1e-15,
		  "wrapped ring: only GCs 292..300 count");
	is_double(gometrics_gc_pause(&m, true, 289, 0), 99999e-9, 1e-15, "GC 290 counts from 289");
	is_double(gometrics_gc_pause(&m, true, 10, 0), 99999e-9, 1e-15,
		  "more than 256 new GCs: the whole ring");
	is_double(gometrics_gc_pause(&m, true, 300, 0), 0, 0, "no new GC");
	is_double(gometrics_gc_pause(&m, false, 0, 296000), 3000e-9, 1e-15,
		  "first sample: pauses that ended in the window (GCs 296..300)");
	m.num_gc = 0;
	is_double(gometrics_gc_pause(&m, false, 0, 0), 0, 0, "no GC yet");
}

static uint64_t count_all(const char *text, size_t chunk, struct prom_counter *pc)
{
	size_t n = strlen(text);
	prom_counter_init(pc);
	for (size_t i = 0; i < n; i += chunk)
		prom_counter_feed(pc, text + i, i + chunk <= n ? chunk : n - i);
	prom_counter_finish(pc);
	return pc->series;
}

static void test_prom(void)
{
	struct prom_counter pc;
	const char *page =
		"# HELP go_goroutines Number of goroutines.\n"
		"# TYPE go_goroutines gauge\n"
		"go_goroutines 42\n"
		"\n"
		"   # indented comment\n"
		"app_info{version=\"1.0 \\\"q\\\" \\\\ # not a comment } {\"} 1\n"
		"app_req_total{path=\"/a\\nb\",code=\"200\"} 3 1700000000000\n"
		"app_req_total{path=\"/a\\nb\",code=\"500\"} 1\n"
		"http_duration_seconds_bucket{le=\"+Inf\"} 7\n"
		"http_duration_seconds_sum 1.5e-3\n"
		"process_start_time_seconds 1.7e9\r\n"
		"# EOF\n"
		"last_without_newline NaN";
	uint64_t want = 8;
	is_int(count_all(page, 1 << 20, &pc), want, "series in one chunk");
	ok(pc.have_goroutines, "go_goroutines found");
	is_double(pc.goroutines, 42, 0, "go_goroutines value");
	is_int(pc.bad_lines, 0, "no malformed lines");
	int same = 1;
	for (size_t chunk = 1; chunk < 64; chunk++)
		same &= count_all(page, chunk, &pc) == want && pc.goroutines == 42;
	ok(same, "same count for every chunk size 1..63");
	is_int(count_all("name_only\nx{a=\"b\"}\n{}\n", 5, &pc), 0, "lines without a value");
	is_int(pc.bad_lines, 3, "counted as malformed");
	is_int(count_all("go_goroutines_total 5\ngo_goroutines{x=\"y\"} 9\n", 3, &pc), 2,
	       "similar names");
	is_double(pc.goroutines, 9, 0, "labelled go_goroutines still counts");

	/* 100,000 series, generated and fed in 16 KiB chunks: constant memory */
	size_t cap = (size_t)100000 * 96, len = 0;
	char *big = xmalloc(cap);
	len += (size_t)snprintf(big, cap, "# HELP x y\n# TYPE app_requests_total counter\n");
	for (int i = 0; i < 100000; i++)
		len += (size_t)snprintf(big + len, cap - len,
					"app_requests_total{method=\"GET\",path=\"/orders/%d\"} %d\n",
					i, i);
	prom_counter_init(&pc);
	for (size_t i = 0; i < len; i += 16384)
		prom_counter_feed(&pc, big + i, i + 16384 <= len ? 16384 : len - i);
	prom_counter_finish(&pc);
	is_int(pc.series, 100000, "100,000-series page");
	ok(!pc.have_goroutines, "no go_goroutines on that page");
	free(big);
}

static void test_sampler_errors(void)
{
	go_sampler *g;
	struct proc_sample s;
	char err[256];
	is_int(go_sampler_new("ftp://x", NULL, &g), -EINVAL, "non-http URL refused");
	/* a port nobody listens on: an error, and the native values stay */
	is_int(go_sampler_new("http://127.0.0.1:1", NULL, &g), 0, "sampler created");
	memset(&s, 0, sizeof(s));
	s.valid = METRIC_BIT(M_RSS) | METRIC_BIT(M_HEAP_INUSE);
	s.v[M_RSS] = 1234;
	int rc = go_sampler_sample(g, METRIC_BIT(M_HEAP_INUSE) | METRIC_BIT(M_GOROUTINES), 1000, &s,
				   err, sizeof(err));
	is_int(rc, -ECONNREFUSED, "connection refused");
	ok(strstr(err, "127.0.0.1:1/debug/vars") != NULL, "error names the URL: %s", err);
	ok(s.valid == METRIC_BIT(M_RSS) && s.v[M_RSS] == 1234, "native metric untouched, Go bits cleared");
	is_int(go_sampler_errors(g), 2, "both failed requests counted");
	go_sampler_free(g);
	go_sampler_free(NULL);
}

/* Sets what the runtime publishes at the end of a GC: the cumulative fraction and LastGC. */
static void gc_end(struct go_memstats *m, double work_s, double at_s, double start_s)
{
	m->num_gc++;
	m->last_gc = (uint64_t)(at_s * 1e9);
	m->gc_cpu_fraction = work_s / (at_s - start_s);
}

static void test_gc_cpu(void)
{
	static struct go_memstats m;
	struct gc_cpu_window w = {0};
	const double start = 1000; /* s, Unix */
	const uint64_t start_ns = (uint64_t)(start * 1e9);
	memset(&m, 0, sizeof(m));
	m.have = GO_MS_GC_CPU | GO_MS_NUM_GC;

	is_double(gometrics_gc_cpu(&w, &m, start_ns, (uint64_t)(start + 5) * 1000000000u), 0, 0,
		  "no GC yet: 0");
	/* Start-up collections of a young process fade while no GC runs. */
	struct gc_cpu_window young = {0};
	gc_end(&m, 0.02, start + 0.1, start);
	is_double(gometrics_gc_cpu(&young, &m, start_ns, (uint64_t)((start + 0.1) * 1e9)), 0.2, 1e-9,
		  "young process: its start-up GCs, 20%% of its first 100 ms");
	is_double(gometrics_gc_cpu(&young, &m, start_ns, (uint64_t)((start + 4) * 1e9)), 0.005, 1e-9,
		  "young process, 4 s later without a GC: 0.5%%, not a frozen 20%%");
	m.num_gc = 0;
	/* An hour of calm: 36 s of GC CPU (1%), last GC at start + 3600 s. */
	gc_end(&m, 36, start + 3600, start);
	is_double(gometrics_gc_cpu(&w, &m, start_ns, (uint64_t)((start + 3601) * 1e9)), 36.0 / 3601,
		  1e-9, "one GC end seen: its work over the time since the start");
	/* A storm: 0.5 s of GC CPU in the next second. */
	gc_end(&m, 36.5, start + 3601, start);
	is_double(gometrics_gc_cpu(&w, &m, start_ns, (uint64_t)((start + 3601) * 1e9)), 0.5, 1e-9,
		  "storm: 50%% over the last second, not the cumulative 1.01%%");
	ok(m.gc_cpu_fraction < 0.011, "(the cumulative figure hides it: %.4f)", m.gc_cpu_fraction);
	gc_end(&m, 37.3, start + 3602, start);
	is_double(gometrics_gc_cpu(&w, &m, start_ns, (uint64_t)((start + 3602) * 1e9)), 0.8, 1e-9,
		  "storm grows: 80%% over the last second");
	/* The storm ends: no GC for 7 s; the share fades instead of freezing. */
	is_double(gometrics_gc_cpu(&w, &m, start_ns, (uint64_t)((start + 3609) * 1e9)), 0.8 / 8, 1e-9,
		  "no GC since: the last cycle's work spread over the time since");
	is_double(gometrics_gc_cpu(&w, &m, start_ns, (uint64_t)((start + 3609) * 1e9)), 0.1, 1e-9,
		  "the same sample twice: the same value");
	/* Clamped, and safe without a start time or with a clock before it. */
	gc_end(&m, 60, start + 3610, start);
	is_double(gometrics_gc_cpu(&w, &m, start_ns, (uint64_t)((start + 3610) * 1e9)), 1, 0,
		  "more than all CPUs (a skewed start): clamped to 100%%");
	struct gc_cpu_window w2 = {0};
	is_double(gometrics_gc_cpu(&w2, &m, 0, (uint64_t)((start + 3610) * 1e9)), m.gc_cpu_fraction,
		  1e-12, "no start time: the cumulative fraction");
	is_double(gometrics_gc_cpu(&w2, &m, m.last_gc + 1, (uint64_t)((start + 3610) * 1e9)),
		  m.gc_cpu_fraction, 1e-12, "start after LastGC: the cumulative fraction");
}

int main(void)
{
	test_vars();
	test_ring();
	test_gc_cpu();
	test_prom();
	test_sampler_errors();
	return done_testing();
}
