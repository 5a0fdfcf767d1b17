/* proc: the per-process sampling hot path over kept-open /proc and cgroup files. */
#ifndef HOUND_PROC_H
#define HOUND_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "lib/metric.h"

/* One sample of one process. v[i] is meaningful only when valid has METRIC_BIT(i). */
struct proc_sample {
	int64_t mono_ms, wall_ms;
	uint64_t valid;
	double v[M_COUNT];
};

/* The native metrics proc_handle_sample can fill. */
#define PROC_NATIVE_MASK                                                                           \
	(METRIC_BIT(M_CPU) | METRIC_BIT(M_CPU_LIMIT) | METRIC_BIT(M_RSS) |                         \
	 METRIC_BIT(M_RSS_ANON) | METRIC_BIT(M_MEM) | METRIC_BIT(M_THREADS) | METRIC_BIT(M_FDS) |  \
	 METRIC_BIT(M_SCHED_WAIT) | METRIC_BIT(M_PSI_MEMORY) | METRIC_BIT(M_PSI_CPU))

/* System-wide values read once per tick: MemTotal and /proc/pressure/{cpu,memory}. */
typedef struct host_sampler host_sampler;

/* Opens proc_root/meminfo and proc_root/pressure/{cpu,memory} (PSI may be
 * absent: its values are then invalid). Returns 0 or -errno (meminfo). */
int host_sampler_new(const char *proc_root, host_sampler **out);
/* Re-reads the kept files; call once per tick. Returns 0 or -errno/-EINVAL. */
int host_sampler_refresh(host_sampler *h);
void host_sampler_free(host_sampler *h);
/* Last refreshed values: bytes; % some avg10, or a negative value when absent. */
double host_sampler_mem_total(const host_sampler *h);
double host_sampler_psi_cpu(const host_sampler *h);
double host_sampler_psi_memory(const host_sampler *h);

typedef struct proc_handle proc_handle;

/*
 * Opens proc_root/PID (the directory fd is kept and pins the process's
 * identity), reads its stat and cgroup and resolves its cgroup limits under
 * cgroup_root. start_ticks 0 accepts any process with that pid; otherwise a
 * different start time is -ESRCH. Returns 0 and *out (free with
 * proc_handle_free), -ESRCH when the process is gone or not the one meant,
 * -EACCES/-EPERM, or -EINVAL for unparsable files.
 */
int proc_handle_open(const char *proc_root, const char *cgroup_root, pid_t pid,
		     uint64_t start_ticks, proc_handle **out);

/*
 * Reads only the files that the metrics in need_mask require and fills
 * out->v / out->valid (a metric that cannot be read is left invalid). cpu,
 * cpu_limit and sched_wait are deltas, valid from the second sample on.
 * host may be NULL (then psi falls back to nothing and mem to the MemTotal
 * read at open). Returns 0, or -ESRCH when the process has exited (including
 * a zombie); the handle is then dead and every later call returns -ESRCH.
 * Allocates nothing; opens a file only the first time a metric needs it,
 * and keeps it open while the fd budget (lib/fdbudget.h) allows; past the
 * budget, files are opened for each read and closed.
 */
int proc_handle_sample(proc_handle *h, host_sampler *host, uint64_t need_mask, int64_t mono_ms,
		       int64_t wall_ms, struct proc_sample *out);

/* Bytes: the cgroup memory limit, else MemTotal. */
double proc_handle_mem_limit(const proc_handle *h);
pid_t proc_handle_pid(const proc_handle *h);
uint64_t proc_handle_start_ticks(const proc_handle *h);
/* Wall-clock ms of the process start (start ticks + btime). */
int64_t proc_handle_start_wall_ms(const proc_handle *h);
/* The process's cgroup line ("0::/system.slice/api.service"), owned by h. */
const char *proc_handle_cgroup(const proc_handle *h);
/* comm at open time, owned by h. */
const char *proc_handle_comm(const proc_handle *h);
/* Number of file descriptors h keeps open (for the agent's own accounting). */
int proc_handle_nfds(const proc_handle *h);
void proc_handle_free(proc_handle *h);


#endif
