/* capture: capture jobs, and the dispatch from a capture kind to its module. */
#ifndef HOUND_CAPTURE_H
#define HOUND_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bundle/bundle.h"
#include "capture/kind.h"
#include "config/config.h"

/* Runs one item (dispatches on item->kind). Never aborts the bundle. */
int capture_run_item(struct capture_ctx *ctx, const struct capture_item *item);


/*
 * A capture job: everything needed to produce one bundle, deep-copied so it
 * outlives config reloads and the process table. Built by the agent (rules,
 * API, alerts) or by `hound capture`; run by capture_job_run on a worker.
 */
struct capture_job {
	char *target;                 /* target name ("manual" for hound capture) */
	char *parent_dir;             /* bundle goes to PARENT/ID */
	char *go_url;                 /* NULL for native */
	char *baseline_dir;           /* per-process baseline dir or NULL */
	bool jvm_off;                 /* the target says jvm: false */
	struct malloc_conf malloc;    /* the target's malloc tracking settings (zero: defaults) */
	struct capture_list items;    /* owned copy */
	struct bundle_process proc;   /* strings owned */
	struct bundle_trigger trig;   /* strings and arrays owned */
	struct label *labels;         /* owned copy of the config's labels */
	size_t nlabels;
	struct flightrec *flight;     /* a reference: adds cpu.before.pb.gz, or NULL */
	int64_t flight_until_mono_ms; /* the moment of the firing */
	bundle *bundle;               /* created early (capture_job_open) or by capture_job_run */
	uint64_t disk_left;           /* max_disk minus the spool's usage, 0: no quota */
	/* Results, filled by capture_job_run. */
	char id[256];
	char final_dir[4096];
	int nerrors;
};

struct capture_job *capture_job_new(const char *target, const char *parent_dir);
void capture_job_free(struct capture_job *job);
/* Deep copies into the job (the job owns the copies). */
void capture_list_copy(struct capture_list *dst, const struct capture_list *src);
/* A deep copy of n labels (NULL when n is 0); the caller frees keys, values and array. */
struct label *capture_labels_copy(const struct label *l, size_t n);
void capture_job_set_labels(struct capture_job *job, const struct label *l, size_t n);
void capture_job_set_trigger_text(struct capture_job *job, const char *rule,
				  const char *condition, const char *reason);
/* Fills job->proc from /proc/PID (comm, cmdline, exe, cgroup, start time). 0 or -errno. */
int capture_job_read_process(struct capture_job *job, pid_t pid);
/*
 * Creates the job's bundle directory now (ID.tmp), so its ID is known before
 * the job runs (the API answers with it). 0 or -errno.
 */
int capture_job_open(struct capture_job *job);
/*
 * Creates the bundle unless open already, runs every item (quick kinds first, errors recorded,
 * never aborting the others), writes the manifest and publishes ID/.
 * Returns 0 or -errno when the bundle itself could not be created/written.
 */
int capture_job_run(struct capture_job *job, volatile sig_atomic_t *stop);

#endif
