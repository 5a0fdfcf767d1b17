/* jvmsummary: the threads of a JVM thread dump (threads.txt) grouped by state and top application frame. */
#ifndef HOUND_JVMSUMMARY_H
#define HOUND_JVMSUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct jvm_thread_group {
	char *state;     /* "BLOCKED (on object monitor)", "(VM thread)" (owned) */
	char *frame;     /* top application frame "JTarget.work", or "-" (owned) */
	size_t count;
	char *names;     /* the first few thread names, comma separated (owned) */
};

struct jvm_threads {
	struct jvm_thread_group *g; /* largest group first */
	size_t n;
	size_t threads;
	bool deadlock;              /* the dump reports a Java-level deadlock */
};

/*
 * Parses the text of Thread.print. The top application frame is the first
 * `at` frame outside java.*, javax.*, jdk.*, sun.* and com.sun.*, else the
 * first frame. Returns 0 (out filled, free with jvmsummary_free) or -EINVAL
 * when no thread is found. Pure.
 */
int jvmsummary_parse(const char *buf, size_t len, struct jvm_threads *out);
void jvmsummary_free(struct jvm_threads *t);

/* For `hound report`: the largest max groups of path. Returns 0 or -errno/-EINVAL. */
int jvmsummary_print(const char *path, FILE *out, size_t max);

#endif
