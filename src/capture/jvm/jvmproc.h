/* jvmproc: is this process a HotSpot JVM, and how to reach it (namespaces, credentials, flags). */
#ifndef HOUND_JVMPROC_H
#define HOUND_JVMPROC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* JVM options that change what hound can do, from the command line and the *JAVA*OPTIONS environment. */
#define JVM_FLAG_XRS 0x01u             /* -Xrs / -XX:+ReduceSignalUsage: SIGQUIT kills it */
#define JVM_FLAG_NO_ATTACH 0x02u       /* -XX:+DisableAttachMechanism */
#define JVM_FLAG_NO_PERFDATA 0x04u     /* -XX:-UsePerfData */
#define JVM_FLAG_PERF_NO_SHM 0x08u     /* -XX:+PerfDisableSharedMem */

struct jvm_proc {
	pid_t pid;          /* in hound's PID namespace */
	pid_t nspid;        /* in the JVM's own (innermost) PID namespace: names its files */
	uid_t uid;          /* effective */
	gid_t gid;
	unsigned long long sigcgt; /* caught signals (SigCgt) */
	unsigned flags;     /* JVM_FLAG_* */
	bool libjvm;        /* libjvm.so is mapped */
	bool has_perf;      /* perf_path names its PerfData file */
	char perf_path[PATH_MAX];
};

/*
 * Parses /proc/PID/status text: the innermost NSpid (Pid when the kernel has
 * no NSpid line), the effective Uid and Gid and SigCgt. Pure. Returns 0 or
 * -EINVAL when Pid or Uid is missing.
 */
int jvm_parse_status(const char *buf, size_t len, struct jvm_proc *out);

/*
 * Scans a NUL-separated argv (or environ) for the JVM options hound cares
 * about and returns JVM_FLAG_* bits. In environ only the *JAVA*OPTIONS
 * variables count. Pure.
 */
unsigned jvm_parse_flags(const char *buf, size_t len, bool environ);

/*
 * Probes a process: reads its status, looks for its PerfData file at
 * /proc/PID/root/tmp/hsperfdata_USER/NSPID (owned by its uid) and, when
 * check_maps is set, whether libjvm.so is mapped (costly on big processes:
 * meant for one-off decisions). Returns 0 (out filled, whether or not it is
 * a JVM) or -ESRCH/-EACCES/-errno.
 */
int jvm_proc_probe(pid_t pid, bool check_maps, struct jvm_proc *out);

/* True when the probe found a PerfData file or libjvm.so. */
bool jvm_proc_is_jvm(const struct jvm_proc *j);

/*
 * Why a JVM has no PerfData file, as a sentence for the status view
 * ("started with -XX:-UsePerfData: no GC metrics without attaching").
 */
const char *jvm_proc_no_perf_reason(const struct jvm_proc *j);

#endif
