/* coresummary: the core dump of a bundle, as `hound report` prints it. */
#include "report/coresummary.h"

#include <inttypes.h>
#include <stdlib.h>

static void mib(FILE *out, const char *label, double bytes)
{
	fprintf(out, "  %-10s %.1f MiB\n", label, bytes / (1024.0 * 1024.0));
}

void coresummary_print(const struct coresummary *c, FILE *out)
{
	fprintf(out, "\ncore dump (%s):\n", c->file ? c->file : "core.zst");
	mib(out, "file", (double)c->file_bytes);
	if (c->memory_bytes)
		mib(out, "memory", strtod(c->memory_bytes, NULL));
	fprintf(out, "  %-10s %s\n", "method", c->method ? c->method : "unknown");
	if (c->freeze_ms)
		fprintf(out, "  %-10s %s ms (the longest the process was stopped)\n", "freeze", c->freeze_ms);
	if (c->fallback)
		fprintf(out, "  %-10s %s\n", "fallback", c->fallback);
	if (c->open)
		fprintf(out, "  %-10s %s\n", "open with", c->open);
}
