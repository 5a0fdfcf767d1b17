/* kind: the contract between the capture worker and each capture kind. */
#ifndef HOUND_CAPTURE_KIND_H
#define HOUND_CAPTURE_KIND_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bundle/bundle.h"
#include "config/config.h"

/*
 * Everything a capture kind needs. The worker owns it; a kind writes its files
 * into bundle_dir(ctx->bundle) and registers them with bundle_add_file().
 */
struct capture_ctx {
	bundle *bundle;
	pid_t pid;
	const struct target_conf *target;  /* may be NULL for `hound capture` */
	const char *target_name;           /* for log lines; may be NULL */
	const char *go_url;                /* NULL for native targets */
	const char *heap_baseline_dir;     /* per-process baseline dir, may be NULL */
	const struct malloc_conf *malloc;  /* malloc tracking settings; NULL: defaults */
	bool jvm;                          /* a HotSpot JVM (and not jvm: false): JVM variants apply */
	volatile sig_atomic_t *stop;       /* set on shutdown: finish early */
	uint64_t disk_left;                /* bytes the spool may still take (max_disk), 0: no quota */
	const char *comm;                  /* comm when the job began (exec race hints); may be NULL */
};

/*
 * One capture kind's entry point: returns 0 on success, or a negative errno
 * with a human sentence in err ("ptrace(PTRACE_SEIZE, 1234): Operation not
 * permitted"). The worker records err in the manifest's errors and goes on.
 */
typedef int (*capture_fn)(struct capture_ctx *ctx, const struct capture_item *item,
			  char *err, size_t errlen);

#endif
