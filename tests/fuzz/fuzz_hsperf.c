/* fuzz_hsperf: libFuzzer target for the PerfData parser and the JVM thread-dump and histogram parsers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/jvm/jvmhisto.h"
#include "lib/hsperf.h"
#include "report/jvmsummary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an 8-aligned copy, as a mapped file is */
	uint64_t *copy = malloc((size / 8 + 1) * 8);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	struct hsperf_header h;
	if (hsperf_parse_header(copy, size, &h) == 0) {
		struct hsperf_iter it;
		struct hsperf_entry e;
		char s[64];
		volatile uint64_t sink = 0; /* unsigned: the fuzzer's sums may wrap */
		hsperf_iter_init(&h, &it);
		while (hsperf_next(copy, size, &h, &it, &e) == 1) {
			if (e.type == 'J' && e.data_len >= 8)
				sink += (uint64_t)hsperf_long(copy, &h, e.data_off);
			else
				hsperf_string(copy, &e, s, sizeof(s));
		}
		(void)sink;
	}
	struct jvm_histo hi;
	if (jvm_histo_parse((const char *)data, size, &hi) == 0)
		jvm_histo_free(&hi);
	struct jvm_threads t;
	if (jvmsummary_parse((const char *)data, size, &t) == 0)
		jvmsummary_free(&t);
	free(copy);
	return 0;
}
