/* jvmcapture: captures of a JVM through its attach socket: threads, class histograms, heap dumps, JFR. */
#ifndef HOUND_JVMCAPTURE_H
#define HOUND_JVMCAPTURE_H

#include <stdbool.h>
#include <sys/types.h>

#include "capture/kind.h"

/* Time limits of the JVM commands (a heap dump of a large heap takes a while). */
#define JVM_THREADS_TIMEOUT_MS 30000
#define JVM_HISTO_TIMEOUT_MS 120000
#define JVM_HEAP_DUMP_TIMEOUT_MS 600000

/*
 * True when pid is a HotSpot JVM (a PerfData file or libjvm.so mapped):
 * the capture dispatch asks before it picks the JVM variant of a kind.
 */
bool jvm_capture_applies(pid_t pid);

/*
 * The JVM variant of a kind: stacks -> threads.txt (Thread.print -l),
 * heap -> heap.histo.txt (+ heap.base.histo.txt and heap.diff.txt when the
 * baseline directory holds one), heap_dump -> heap.hprof.gz, cpu -> cpu.jfr
 * (and cpu.before.jfr when a recording was already running). Returns 0 or
 * -errno with err set (capture_fn contract).
 */
int jvm_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err, size_t errlen);

/*
 * Takes the class histogram baseline into dir/heap.base.histo.txt (written
 * atomically). Returns 0 or -errno.
 */
int jvm_heap_baseline(pid_t pid, const char *dir);

#endif
