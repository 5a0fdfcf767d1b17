/* cgroup: a process's memory limit, CPU quota and PSI files under v1, v2 or hybrid cgroups. */
#ifndef HOUND_CGROUP_H
#define HOUND_CGROUP_H

#include <stddef.h>
#include <stdint.h>

enum cgroup_layout {
	CGROUP_NONE,   /* nothing mounted under the root */
	CGROUP_V1,     /* controllers under ROOT/<controller> */
	CGROUP_V2,     /* unified hierarchy at ROOT */
	CGROUP_HYBRID, /* v1 controllers plus v2 at ROOT/unified */
};

enum cgroup_psi { CGROUP_PSI_CPU, CGROUP_PSI_MEMORY };

typedef struct cgroup_view cgroup_view;

/* Looks at which hierarchy files exist under root (e.g. "/sys/fs/cgroup"). */
enum cgroup_layout cgroup_detect(const char *root);
const char *cgroup_layout_name(enum cgroup_layout l);

/*
 * Resolves the cgroups named in proc_cgroup (the content of /proc/PID/cgroup,
 * len bytes) under root. Limits are the tightest over the cgroup and its
 * ancestors, read once here (a limit changed later is not seen). Returns 0 and
 * *out (free with cgroup_view_free), or -EINVAL when the content is malformed.
 * Missing cgroup files are not errors: the limit is then "none".
 */
int cgroup_view_open(const char *root, const char *proc_cgroup, size_t len, cgroup_view **out);
void cgroup_view_free(cgroup_view *v);

enum cgroup_layout cgroup_view_layout(const cgroup_view *v);
/* Bytes, or UINT64_MAX when no cgroup memory limit applies. */
uint64_t cgroup_view_mem_limit(const cgroup_view *v);
/* CPU quota in cores (quota / period, e.g. 1.5), or 0 when unlimited. */
double cgroup_view_cpu_quota(const cgroup_view *v);
/* The line of /proc/PID/cgroup that names the process's cgroup: the v2 line on
 * v2, the memory controller's line otherwise. Owned by v. */
const char *cgroup_view_path_line(const cgroup_view *v);

/*
 * "some avg10" (%) of the process's own v2 cgroup pressure file. The file is
 * opened on first use and then kept open and re-read with pread. Returns 0,
 * -ENOENT when there is no per-cgroup file (v1, the root cgroup, PSI off:
 * callers fall back to /proc/pressure), or -errno / -EINVAL on read failure.
 */
int cgroup_view_psi(cgroup_view *v, enum cgroup_psi which, double *out);

#endif
