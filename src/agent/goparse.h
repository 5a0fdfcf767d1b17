/* goparse: pure parsers for Go endpoints: expvar memstats, the GC pause ring, Prometheus text. */
#ifndef HOUND_GOPARSE_H
#define HOUND_GOPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The runtime.MemStats fields hound reads (expvar's "memstats"). */
struct go_memstats {
	uint64_t heap_inuse, heap_alloc, heap_released, num_gc, last_gc, next_gc;
	double gc_cpu_fraction;
	uint64_t pause_ns[256], pause_end[256];
	uint32_t have; /* GO_MS_* bits of the fields found */
};
#define GO_MS_HEAP_INUSE 0x01u
#define GO_MS_HEAP_ALLOC 0x02u
#define GO_MS_HEAP_RELEASED 0x04u
#define GO_MS_NUM_GC 0x08u
#define GO_MS_GC_CPU 0x10u
#define GO_MS_PAUSE 0x20u /* both rings */
#define GO_MS_NEXT_GC 0x40u

/*
 * heap_live for Go: the heap marked live at the last GC. The runtime sets
 * its next goal from it, NextGC = live * (1 + GOGC/100), so live is the goal
 * over that factor (an estimate: since Go 1.18 the goal also counts stacks
 * and globals, so this errs a little high). gogc is the GOGC percentage
 * (100 when unset); a negative one (GOGC=off) has no goal: returns -1. Pure.
 */
double gometrics_heap_live(const struct go_memstats *m, int gogc);

/*
 * Parses a /debug/vars document (expvar JSON) and fills out from its
 * "memstats" object. Pure, allocation-free, bounded nesting. Returns 0, or
 * -EINVAL with a sentence in err for malformed JSON or a missing memstats.
 */
int gometrics_parse_vars(const char *buf, size_t len, struct go_memstats *out, char *err,
			 size_t errlen);

/*
 * The longest GC pause, in seconds, among pauses that are new since the
 * previous sample (prev_num_gc; at most the 256 the ring still holds). With
 * no previous sample (have_prev false) it takes the pauses that ended at or
 * after since_ns (Unix ns). Returns 0 when no GC ran.
 */
double gometrics_gc_pause(const struct go_memstats *m, bool have_prev, uint64_t prev_num_gc,
			  uint64_t since_ns);

/*
 * gc_cpu over a recent window. The runtime publishes GCCPUFraction (GC CPU
 * since it started over the CPU available since then) at the end of each GC,
 * stamped LastGC; f * (LastGC - start) is therefore the GC CPU spent up to
 * that GC, in units of all GOMAXPROCS (which cancel out). Between two
 * published points that difference over the time elapsed is the recent
 * share: a storm shows at once and fades when it ends, where the cumulative
 * fraction would dilute it over the process's whole life and then freeze.
 *
 * The window runs from the GC end seen before the latest change (ref) to
 * now, so with frequent GCs it is about one sampling interval and with rare
 * ones it spans a cycle and decays while no GC runs. Until a second GC end
 * is seen the process's start is the reference (so a young process's
 * start-up collections fade too). Without a start time it is the cumulative
 * fraction. Returns a fraction (0..1). Pure.
 */
struct gc_cpu_window {
	bool have_prev, have_ref;
	double prev_work_ns, ref_work_ns;  /* GC CPU up to the GC that ended at *_at_ns */
	uint64_t prev_at_ns, ref_at_ns;     /* LastGC, Unix ns */
};
double gometrics_gc_cpu(struct gc_cpu_window *w, const struct go_memstats *m, uint64_t start_ns,
			uint64_t now_ns);

/*
 * Streaming counter of the Prometheus text exposition format: feed it the
 * body in chunks of any size; it counts sample lines (series) and picks up
 * go_goroutines, in constant memory. Comments, blank lines, label values
 * with escapes, '#', '}' or spaces inside quotes are handled.
 */
struct prom_counter {
	int state;
	uint64_t series;
	uint64_t bad_lines;      /* lines that are not comments and not samples */
	bool have_goroutines;
	double goroutines;
	size_t nlen, vlen;
	char name[64];           /* current metric name (truncated: won't match) */
	char val[48];
};
void prom_counter_init(struct prom_counter *c);
void prom_counter_feed(struct prom_counter *c, const char *buf, size_t n);
/* Ends the last line when the body did not end with a newline. */
void prom_counter_finish(struct prom_counter *c);

#endif
