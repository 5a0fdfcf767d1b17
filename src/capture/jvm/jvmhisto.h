/* jvmhisto: pure parser of a JVM class histogram (GC.class_histogram) and its growth by class. */
#ifndef HOUND_JVMHISTO_H
#define HOUND_JVMHISTO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct jvm_histo_class {
	char *name;             /* "java.lang.String", "[B", "com.acme.Session" (owned) */
	int64_t instances, bytes;
};

struct jvm_histo {
	struct jvm_histo_class *c;
	size_t n;
	int64_t total_instances, total_bytes;
};

/*
 * Parses the text of GC.class_histogram ("   1:   7209   333072  [B
 * (java.base@17)"); the module suffix is dropped so that classes match
 * across JDK updates. Returns 0 and *out (free with jvm_histo_free), or
 * -EINVAL when no class line is found. Pure.
 */
int jvm_histo_parse(const char *buf, size_t len, struct jvm_histo *out);
void jvm_histo_free(struct jvm_histo *h);

struct jvm_histo_growth {
	const char *name;       /* points into now or base */
	int64_t base_bytes, now_bytes, base_instances, now_instances;
};

/*
 * Growth by class, largest byte growth first (ties by instance growth, then
 * name, so the order is stable). *out is an array of *n entries (free()).
 */
void jvm_histo_diff(const struct jvm_histo *base, const struct jvm_histo *now,
		    struct jvm_histo_growth **out, size_t *n);

/* Writes heap.diff.txt: a commented header, then one line per class that changed, top max. */
void jvm_histo_format_diff(const struct jvm_histo *base, const struct jvm_histo *now,
			   const char *base_when, const char *now_when, FILE *f, size_t max);

#endif
