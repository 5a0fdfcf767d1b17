/* agent_int: the agent's internal state, shared by agent*.c only. */
#ifndef HOUND_AGENT_INT_H
#define HOUND_AGENT_INT_H

#include <pthread.h>
#include <signal.h>

#include "agent/agent.h"
#include "agent/proc.h"
#include "agent/procs.h"
#include "agent/rules.h"
#include "agent/tproc.h"
#include "agent/workers.h"

struct uploader;

/* Per-target runtime: its processes and counters. */
struct tstate {
	const struct target_conf *conf;
	char *fingerprint;            /* reload keeps state when this is unchanged */
	bool heap_baseline;           /* some rule, alert or the API may capture heap */
	struct tproc **procs;
	size_t nprocs, cap;
	struct limit_state limits;
	struct limit_state core_limits; /* core dumps, bounded by limits.max_cores */
	uint64_t *firings;            /* per rule */
	uint64_t captures_ok, captures_failed;
	uint64_t refused[REFUSE_BAD_KIND + 1];
	uint64_t procs_started, procs_exited;
};

/* A recently written bundle, for GET /v1/captures. */
struct recent_bundle {
	char id[256];
	char target[128];
	char *dir;                    /* owned */
	pid_t pid;
	enum trigger_kind trigger;
	int64_t finished_wall_ms;
	int rc;
	int nerrors;
};

#define RECENT_MAX 64
#define DEDUP_MAX 256

struct dedup_entry {
	char key[256];
	int64_t until_mono_ms;
};

struct agent {
	pthread_mutex_t lock;         /* guards everything below that the API reads */
	struct hound_config *cfg;
	struct tstate *ts;
	size_t nts;
	host_sampler *host;
	procs_scan *scan;
	workers *workers;
	struct uploader *up;
	const struct agent_service *svc[AGENT_MAX_SERVICES]; /* started with each config */
	void *svc_state[AGENT_MAX_SERVICES];
	size_t nsvc;
	volatile sig_atomic_t stopping;

	/* loop health */
	int64_t last_tick_mono_ms;
	int64_t last_loop_ms, max_loop_ms, last_lag_ms, max_lag_ms;
	int64_t busy_since_ms; /* mono ms the current tick or reload began, 0 between (atomic) */
	uint64_t ticks, samples, sample_errors, scans, reloads, reload_failures;
	uint64_t captures_by_kind[K_COUNT][2]; /* [kind][ok=0 / failed=1] */
	uint64_t capture_jobs_ok, capture_jobs_failed;
	/* spool full (max_disk or filesystem): captures refused, rechecked with backoff */
	bool disk_full;
	int64_t disk_retry_mono_ms, disk_backoff_ms, disk_avail_bytes;
	uint64_t disk_full_episodes;

	struct recent_bundle recent[RECENT_MAX];
	size_t nrecent, recent_head;
	struct dedup_entry dedup[DEDUP_MAX];
	size_t ndedup;
};

/* agent_capture.c */
void agent_on_verdicts(agent *a, struct tstate *ts, struct tproc *p, int64_t mono_ms);
void agent_maybe_baseline(agent *a, struct tstate *ts, struct tproc *p, int64_t mono_ms);
void agent_drop_baseline(agent *a, struct tproc *p);
/* Returns REFUSE_NONE when a capture for p may start now (limits, busy, disk). */
enum agent_refusal agent_admit(agent *a, struct tstate *ts, struct tproc *p, int64_t mono_ms);

/* agent.c */
struct tstate *agent_find_ts(agent *a, const char *name);

#endif
