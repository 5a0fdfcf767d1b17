/* agent: the daemon: discovery, the sampling loop, rule firings, captures, reloads. */
#ifndef HOUND_AGENT_H
#define HOUND_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bundle/bundle.h"
#include "config/config.h"
#include "lib/json.h"

typedef struct agent agent;

/* Takes ownership of cfg. Returns 0 or -errno (with a logged reason). */
int agent_new(struct hound_config *cfg, agent **out);
/*
 * Runs until SIGTERM/SIGINT (SIGHUP reloads). The caller must have blocked
 * SIGHUP, SIGTERM and SIGINT in every thread (agent_block_signals) first.
 * Returns an exit status.
 */
int agent_run(agent *a);
void agent_free(agent *a);
/* Blocks the signals the agent waits for; call before any thread starts. */
void agent_block_signals(void);

/*
 * A part of the daemon started with each loaded config, after the uploader,
 * and stopped before a reload and at exit: the HTTP API. The agent does not
 * know what it is; the command that runs the agent registers it, so the agent
 * never depends on the layers above it. start returns 0 or -errno (with a
 * logged reason) and leaves in *state what stop gets back (NULL: nothing ran).
 */
struct agent_service {
	const char *name;
	int (*start)(agent *a, const struct hound_config *cfg, void **state);
	void (*stop)(void *state);
};
#define AGENT_MAX_SERVICES 4
/* Registers svc before agent_run (not copied: it must outlive the agent). */
void agent_add_service(agent *a, const struct agent_service *svc);

/* Why a capture request was not taken (API and alerts report it). */
enum agent_refusal {
	REFUSE_NONE,
	REFUSE_UNKNOWN_TARGET,
	REFUSE_NO_PROCESS,
	REFUSE_LIMIT,
	REFUSE_COOLDOWN,
	REFUSE_BUSY,
	REFUSE_DISK,
	REFUSE_QUEUE,
	REFUSE_BAD_KIND,
};
const char *agent_refusal_name(enum agent_refusal r);

/* An on-demand capture (API or alert). Strings are copied. */
struct agent_capture_req {
	const char *target;
	pid_t pid;                          /* 0: every process of the target */
	const struct capture_list *capture; /* NULL: the kinds of the target's first rule, else stacks+heap */
	enum trigger_kind kind;             /* TRIGGER_API or TRIGGER_ALERT */
	const char *reason;
	const struct label *alert_labels;
	size_t nalert_labels;
	const struct label *alert_annotations;
	size_t nalert_annotations;
	const char *alert_generator_url;     /* alerts: the alert's source, or NULL */
	const char *dedup_key;              /* alerts: same key within cooldown captures once */
	int64_t cooldown_ms;                /* for dedup_key */
};

struct agent_capture_result {
	char (*ids)[256];                   /* caller's array of bundle IDs */
	size_t max_ids, nids;
	enum agent_refusal refusal;         /* for the first refused process */
	char detail[256];
};

/* Thread-safe: queues one capture job per selected process. 0 or -errno. */
int agent_request_capture(agent *a, const struct agent_capture_req *req,
			  struct agent_capture_result *res);

/* Thread-safe views for the API. */
void agent_write_targets_json(agent *a, struct json_writer *w);
void agent_write_captures_json(agent *a, struct json_writer *w);
/* Appends Prometheus text exposition to *buf (malloc'd, grown as needed). */
void agent_write_metrics(agent *a, char **buf, size_t *len);
/* Where one bundle is on this agent's disk (GET /v1/captures/{id}). */
struct agent_bundle_loc {
	char dir[4096];   /* OUTPUT/bundles/TARGET/ID, or ID.tmp while capturing */
	char target[128];
	bool complete;    /* false: still being captured */
	const char *state; /* "capturing", else the upload state: local, pending, uploading, uploaded */
};
/*
 * Thread-safe: finds bundle id in the spool. 0, -EINVAL for an id that is
 * not a plain name (never a path), -ENOENT when no target holds it.
 */
int agent_find_bundle(agent *a, const char *id, struct agent_bundle_loc *loc);
/* True when the sampling loop ran within 3 intervals. */
bool agent_healthy(agent *a, int64_t *age_ms);
/* The loaded config (valid until the next reload; call under no lock of yours). */
const struct hound_config *agent_config(agent *a);

#endif
