/* goparse: pure parsers for Go endpoints: expvar memstats, the GC pause ring, Prometheus text. */
#ifndef HOUND_GOPARSE_H
#define HOUND_GOPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The runtime.MemStats fields hound reads (expvar's "memstats"). */
struct go_memstats {
	uint64_t heap_inuse, heap_alloc, heap_released, num_gc, last_gc;
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
