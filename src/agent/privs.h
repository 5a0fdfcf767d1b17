/* privs: least privilege: the agent keeps only the capabilities its config needs. */
#ifndef HOUND_PRIVS_H
#define HOUND_PRIVS_H

#include <stddef.h>
#include <stdio.h>

struct hound_config;

/* The privileges hound can use, as bits of privs_needed(). */
enum privs_bit {
	PRIV_PTRACE = 1 << 0,	       /* CAP_SYS_PTRACE: stacks, smaps, maps, /proc/PID/exe */
	PRIV_PERFMON = 1 << 1,	       /* CAP_PERFMON (CAP_SYS_ADMIN before 5.8): perf_event */
	PRIV_DAC_READ_SEARCH = 1 << 2, /* CAP_DAC_READ_SEARCH: /proc/PID/fd, JVM PerfData of other users */
	/* JVM attach to a JVM of another uid: SIGQUIT, its 0600 socket, its dump files in /tmp */
	PRIV_KILL = 1 << 3,            /* CAP_KILL */
	PRIV_DAC_OVERRIDE = 1 << 4,    /* CAP_DAC_OVERRIDE */
	PRIV_FOWNER = 1 << 5,          /* CAP_FOWNER */
	/* malloc tracking: loading its BPF programs, and the uprobe perf events that
	 * run them (refused without CAP_SYS_ADMIN, even with CAP_PERFMON, on 6.x kernels) */
	PRIV_BPF = 1 << 6,             /* CAP_BPF (CAP_SYS_ADMIN before 5.8) */
	PRIV_UPROBE = 1 << 7,          /* CAP_SYS_ADMIN */
};

/*
 * The PRIV_* bits the config can use: every capture kind its rules, alert
 * routes and (when `api:` is on) API requests may ask of each target, the
 * metrics and selectors it reads, and the flight recorder. Pure.
 */
unsigned privs_needed(const struct hound_config *cfg);

/*
 * Drops every capability the config does not need from the effective,
 * permitted, inheritable, ambient and bounding sets, switches to
 * cfg->run_as_user when set (keeping the needed capabilities across the
 * switch), and sets no_new_privs. Capabilities are per thread: call it while
 * the process is still single-threaded (it refuses otherwise). A needed
 * capability the process lacks is logged as a warning, not an error.
 * Returns 0, or -errno with a message in err.
 */
int privs_apply(const struct hound_config *cfg, char *err, size_t errlen);

/*
 * For `hound check`: one line on out per capture kind, target and missing
 * capability, judged from this process's effective set, e.g.
 * "warning: stacks for target api needs CAP_SYS_PTRACE, used by rule rss-spike".
 * Prints nothing when nothing is missing. Returns the number of lines.
 */
int privs_report(const struct hound_config *cfg, FILE *out);

/* The same judgement as log warnings (after a reload); returns their number. */
int privs_log_missing(const struct hound_config *cfg);

#endif
