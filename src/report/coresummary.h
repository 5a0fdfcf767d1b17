/* coresummary: the core dump of a bundle, as `hound report` prints it. */
#ifndef HOUND_CORESUMMARY_H
#define HOUND_CORESUMMARY_H

#include <stdint.h>
#include <stdio.h>

/* What the manifest says of the core (strings may be NULL when absent). */
struct coresummary {
	const char *file;        /* "core.zst" */
	int64_t file_bytes;      /* on disk */
	const char *memory_bytes; /* uncompressed, from the notes */
	const char *method;
	const char *freeze_ms;
	const char *fallback;
	const char *open;        /* the command that opens it */
};

/* Prints the section: size, method, freeze, fallback, how to open it. Pure formatting. */
void coresummary_print(const struct coresummary *c, FILE *out);

#endif
