/* bundle: one capture's directory (ID.tmp -> ID) and its manifest.json. */
#ifndef HOUND_BUNDLE_H
#define HOUND_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"
#include "lib/metric.h"

enum trigger_kind { TRIGGER_RULE, TRIGGER_API, TRIGGER_ALERT, TRIGGER_MANUAL };

/* The samples that led to a firing, oldest first. */
struct history_point {
	int64_t wall_ms;
	double value;
};

/* What caused a bundle; the creator owns every pointer in it. */
struct bundle_trigger {
	enum trigger_kind kind;
	const char *rule;        /* rule name, or NULL for api/alert/manual */
	enum metric_id metric;   /* rules only */
	double value, avg, threshold;
	const char *condition;   /* "abs", "diff", "min", "trend", "forecast" */
	const char *reason;      /* a sentence with the numbers */
	const struct label *alert_labels;      /* alerts only */
	size_t nalert_labels;
	const struct label *alert_annotations;
	size_t nalert_annotations;
	const char *alert_generator_url; /* alerts: where the alert came from, or NULL */
	const struct history_point *history;
	size_t nhistory;
};

/* The process a bundle is about (SPEC: process object). */
struct bundle_process {
	pid_t pid;
	int64_t start_wall_ms;   /* process start time, wall clock */
	uint64_t start_ticks;    /* /proc/PID/stat field 22 */
	const char *comm, *cmdline, *exe, *cgroup;
};

typedef struct bundle bundle;

/*
 * Creates PARENT/ID.tmp/ (the agent passes OUTPUT/bundles/TARGET, `hound
 * capture -o DIR` passes DIR); the ID is YYYYMMDDTHHMMSSZ-PID-RULE, with a
 * "-N" suffix if that name is taken. Returns 0 or -errno; *out is owned by the
 * caller until bundle_finish or bundle_abort. Thread-safe per bundle.
 */
int bundle_create(const char *parent, pid_t pid, const char *rule, int64_t wall_ms, bundle **out);
const char *bundle_id(const bundle *b);
/* The directory to write files into (the .tmp one until finished). */
const char *bundle_dir(const bundle *b);
/*
 * Registers a file already written under bundle_dir(): records its size and
 * sha256. kind is the capture kind name; format e.g. "pprof", "text", "json".
 */
int bundle_add_file(bundle *b, const char *name, const char *kind, const char *format);
/* Records a failure of one capture kind (printf-style message). Never fatal. */
void bundle_add_error(bundle *b, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Adds a free-form note "key": "value" under manifest "notes" (e.g. fallbacks used). */
void bundle_add_note(bundle *b, const char *key, const char *value);
/*
 * Writes manifest.json (fsynced) and renames ID.tmp to ID. labels/host/etc.
 * come from the arguments. Frees b in every case. On success, if final_dir is
 * not NULL, copies the final path into it (PATH_MAX). Returns 0 or -errno.
 */
int bundle_finish(bundle *b, const char *target, const struct bundle_trigger *trig,
		  const struct bundle_process *proc, const struct label *labels, size_t nlabels,
		  char *final_dir);
/* Removes the .tmp directory and frees b. */
void bundle_abort(bundle *b);

#endif
