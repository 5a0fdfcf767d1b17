/* tproc: the runtime state of one watched process (histories, rule states, handles). */
#ifndef HOUND_TPROC_H
#define HOUND_TPROC_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/gometrics.h"
#include "agent/jvmperf.h"
#include "agent/proc.h"
#include "agent/procs.h"
#include "agent/rules.h"
#include "config/config.h"

/* What hound knows about a process being a JVM. */
enum tproc_jvm {
	TPROC_JVM_PROBING,  /* young process, no PerfData file yet: look again */
	TPROC_JVM_PERF,     /* a JVM with readable PerfData */
	TPROC_JVM_NO_PERF,  /* a JVM (libjvm.so mapped) without PerfData: attach only */
	TPROC_JVM_NOT,      /* not a JVM, or jvm: false, or a Go target */
};

/* A process without a PerfData file this long after its start is judged once by its maps. */
#define TPROC_JVM_PROBE_WINDOW_MS 10000
#define TPROC_JVM_PROBE_EVERY_MS 2000

/*
 * One process of one target, identified by (pid, start_ticks). Owned by the
 * agent's target table; touched only by the sampling thread, and read by the
 * API under the agent lock.
 */
struct tproc {
	pid_t pid;
	uint64_t start_ticks;
	int64_t start_wall_ms;
	char *comm, *cmdline, *exe, *cgroup;
	proc_handle *ph;
	go_sampler *go;
	struct flightrec *flight;    /* always-on low-rate CPU ring, or NULL */
	struct lockgraph *locks;     /* opened when a rule uses deadlocked or lock_wait */
	char *locks_error;           /* last lock graph error, NULL when fine (owned) */
	struct own_sampler *own;     /* when a rule reads the target's own series */
	char *own_error;             /* last own-series error, NULL when fine (owned) */
	struct metric_hist **own_hist; /* per rule: the history of its own series, else NULL */
	double *own_v;               /* per rule: the last value of its own series */
	bool *own_valid;             /* per rule: own_v was read this tick */
	bool *own_rate;              /* per rule: own_v is a counter's per-second rate */
	char *go_error;              /* last Go endpoint error, NULL when fine (owned) */
	enum tproc_jvm jvm_state;    /* is it a JVM, and can its PerfData be read */
	jvm_sampler *jvm;            /* the mapped PerfData, when jvm_state is TPROC_JVM_PERF */
	char jvm_status[224];        /* why there are no JVM metrics, for the status view */
	int64_t jvm_probe_mono_ms;   /* the last look for a PerfData file */
	struct metric_hist *hist[M_COUNT]; /* allocated for the metrics the rules use */
	uint64_t hist_mask;          /* metrics with an initialised history */
	struct rule_state *rs;       /* one per rule of the target */
	struct rule_verdict *verdicts;
	size_t nrules;
	struct proc_sample last;
	uint64_t nsamples;
	int64_t first_seen_mono_ms;
	bool seen;                   /* found by the latest discovery scan */
	bool capturing;              /* a capture job for it is queued or running */
	bool warm;                   /* every metric has `history` samples */
	char *baseline_dir;          /* OUTPUT/baselines/TARGET/PID-START (owned) */
	int64_t baseline_mono_ms;    /* 0: none taken yet */
};

/* Creates the state for a newly discovered process; -ESRCH if it is already gone. */
int tproc_new(const struct target_conf *t, const struct hound_config *c, const struct proc_ident *id,
	      struct tproc **out);
void tproc_free(struct tproc *p);
/*
 * Takes one sample of the metrics the target's rules use and pushes it into the
 * histories. Returns 0, or -ESRCH when the process is gone (drop it).
 */
int tproc_sample(struct tproc *p, const struct target_conf *t, host_sampler *host, int64_t mono_ms,
		 int64_t wall_ms, int64_t interval_ms);
/* Evaluates every rule on the newest sample; verdicts land in p->verdicts. */
void tproc_eval(struct tproc *p, const struct target_conf *t, int64_t mono_ms);
double tproc_mem_limit(const struct tproc *p);
/* The history rule i of t is judged on (its own series', or its metric's). */
struct metric_hist *tproc_rule_hist(const struct tproc *p, const struct target_conf *t, size_t i);

#endif
