/* cgroup: a process's memory limit, CPU quota and PSI files under v1, v2 or hybrid cgroups. */
#include "lib/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/procfs.h"
#include "lib/util.h"

#define FD_UNOPENED (-1)
#define FD_ABSENT   (-2) /* tried once, the file does not exist: do not retry */

struct cgroup_view {
	enum cgroup_layout layout;
	uint64_t mem_limit;
	double cpu_quota;
	char *line;    /* the identifying /proc/PID/cgroup line */
	char *v2_dir;  /* absolute dir of the v2 cgroup, NULL when none or the root */
	int psi_fd[2]; /* indexed by enum cgroup_psi */
};

static bool file_exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (!util_snprintf(path, sizeof(path), "%s/%s", dir, name))
		return false;
	return access(path, F_OK) == 0;
}

enum cgroup_layout cgroup_detect(const char *root)
{
	char unified[PATH_MAX];

	if (file_exists(root, "cgroup.controllers"))
		return CGROUP_V2;
	if (util_snprintf(unified, sizeof(unified), "%s/unified", root) &&
	    file_exists(unified, "cgroup.controllers"))
		return CGROUP_HYBRID;
	if (file_exists(root, "memory") || file_exists(root, "cpu") ||
	    file_exists(root, "cpu,cpuacct"))
		return CGROUP_V1;
	return CGROUP_NONE;
}

const char *cgroup_layout_name(enum cgroup_layout l)
{
	switch (l) {
	case CGROUP_V1:
		return "v1";
	case CGROUP_V2:
		return "v2";
	case CGROUP_HYBRID:
		return "hybrid";
	case CGROUP_NONE:
		break;
	}
	return "none";
}

/* Reads a small cgroup file at "dir/name" into buf; returns bytes or -errno. */
static ssize_t read_small(const char *dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (!util_snprintf(path, sizeof(path), "%s/%s", dir, name))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, 0);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

/* A path from outside our cgroup namespace reads "/../x": it names nothing under root. */
static bool path_inside(const char *path, size_t len)
{
	for (size_t i = 0; i + 3 <= len; i++)
		if (path[i] == '/' && path[i + 1] == '.' && path[i + 2] == '.' &&
		    (i + 3 == len || path[i + 3] == '/'))
			return false;
	return true;
}

/*
 * Calls fn on dir and each ancestor of it down to base (inclusive). dir is
 * base + path; path starts with '/'.
 */
static void walk_up(const char *base, const char *path, size_t path_len,
		    void (*fn)(const char *dir, void *arg), void *arg)
{
	char dir[PATH_MAX];
	size_t blen = strlen(base);

	if (!path_inside(path, path_len))
		return;
	if (path_len == 1 && path[0] == '/')
		path_len = 0;
	if (blen + path_len + 1 > sizeof(dir))
		return;
	memcpy(dir, base, blen);
	memcpy(dir + blen, path, path_len);
	dir[blen + path_len] = '\0';
	for (;;) {
		fn(dir, arg);
		char *slash = strrchr(dir + blen, '/');
		if (!slash || slash == dir + blen) {
			if (dir[blen] == '\0')
				break;
			dir[blen] = '\0'; /* finally the base itself */
			continue;
		}
		*slash = '\0';
	}
}

struct limits {
	uint64_t mem;
	double cpu; /* 0 = none */
};

static void tighten_cpu(struct limits *l, int64_t quota, int64_t period)
{
	double cores;

	if (quota <= 0 || period <= 0)
		return;
	cores = (double)quota / (double)period;
	if (l->cpu == 0 || cores < l->cpu)
		l->cpu = cores;
}

static void v2_level(const char *dir, void *arg)
{
	struct limits *l = arg;
	char buf[128];
	ssize_t n;
	uint64_t mem;
	int64_t q, p;

	n = read_small(dir, "memory.max", buf, sizeof(buf));
	if (n > 0 && procfs_parse_mem_limit(buf, (size_t)n, &mem) == 0 && mem < l->mem)
		l->mem = mem;
	n = read_small(dir, "cpu.max", buf, sizeof(buf));
	if (n > 0 && procfs_parse_cpu_max(buf, (size_t)n, &q, &p) == 0)
		tighten_cpu(l, q, p);
}

static void v1_mem_level(const char *dir, void *arg)
{
	struct limits *l = arg;
	char buf[128];
	ssize_t n;
	uint64_t mem;

	n = read_small(dir, "memory.limit_in_bytes", buf, sizeof(buf));
	if (n > 0 && procfs_parse_mem_limit(buf, (size_t)n, &mem) == 0 && mem < l->mem)
		l->mem = mem;
}

static void v1_cpu_level(const char *dir, void *arg)
{
	struct limits *l = arg;
	char buf[64];
	ssize_t n;
	int64_t q, p;

	n = read_small(dir, "cpu.cfs_quota_us", buf, sizeof(buf));
	if (n <= 0 || procfs_parse_int64(buf, (size_t)n, &q) < 0)
		return;
	n = read_small(dir, "cpu.cfs_period_us", buf, sizeof(buf));
	if (n <= 0 || procfs_parse_int64(buf, (size_t)n, &p) < 0)
		return;
	tighten_cpu(l, q, p);
}

/*
 * A v1 controller is mounted at ROOT/<the controllers field> ("cpu,cpuacct")
 * or at ROOT/<controller> (often a symlink to the former); use what exists.
 */
static void v1_controller(const char *root, const char *buf, size_t len, const char *ctrl,
			  void (*fn)(const char *dir, void *arg), struct limits *l)
{
	struct procfs_cgroup_line cl;
	char base[PATH_MAX];

	if (procfs_cgroup_find(buf, len, ctrl, &cl) < 0)
		return;
	if (!util_snprintf(base, sizeof(base), "%s/%.*s", root, (int)cl.controllers_len,
			   cl.controllers) ||
	    access(base, F_OK) != 0) {
		if (!util_snprintf(base, sizeof(base), "%s/%s", root, ctrl) ||
		    access(base, F_OK) != 0)
			return;
	}
	walk_up(base, cl.path, cl.path_len, fn, l);
}

static char *line_dup(const struct procfs_cgroup_line *cl)
{
	return xasprintf("%u:%.*s:%.*s", cl->hier, (int)cl->controllers_len, cl->controllers,
			 (int)cl->path_len, cl->path);
}

int cgroup_view_open(const char *root, const char *proc_cgroup, size_t len, cgroup_view **out)
{
	struct limits l = {PROCFS_UNLIMITED, 0};
	struct procfs_cgroup_line v2, mem;
	bool has_v2, has_mem;
	const char *v2_base = root;
	char unified[PATH_MAX];
	cgroup_view *v;
	int r;

	*out = NULL;
	r = procfs_cgroup_find(proc_cgroup, len, NULL, &v2);
	if (r == -EINVAL)
		return r;
	has_v2 = r == 0;
	r = procfs_cgroup_find(proc_cgroup, len, "memory", &mem);
	if (r == -EINVAL)
		return r;
	has_mem = r == 0;

	v = xcalloc(1, sizeof(*v));
	v->psi_fd[0] = v->psi_fd[1] = FD_UNOPENED;
	v->layout = cgroup_detect(root);
	if (v->layout == CGROUP_HYBRID) {
		if (!util_snprintf(unified, sizeof(unified), "%s/unified", root))
			unified[0] = '\0';
		v2_base = unified;
	}
	if (v->layout == CGROUP_V2 && has_v2) {
		walk_up(root, v2.path, v2.path_len, v2_level, &l);
	} else if (v->layout == CGROUP_V1 || v->layout == CGROUP_HYBRID) {
		v1_controller(root, proc_cgroup, len, "memory", v1_mem_level, &l);
		v1_controller(root, proc_cgroup, len, "cpu", v1_cpu_level, &l);
	}
	if ((v->layout == CGROUP_V2 || v->layout == CGROUP_HYBRID) && has_v2 &&
	    !(v2.path_len == 1 && v2.path[0] == '/') && path_inside(v2.path, v2.path_len))
		v->v2_dir = xasprintf("%s%.*s", v2_base, (int)v2.path_len, v2.path);
	if (has_v2 && (v->layout == CGROUP_V2 || !has_mem))
		v->line = line_dup(&v2);
	else if (has_mem)
		v->line = line_dup(&mem);
	else
		v->line = xstrdup("");
	v->mem_limit = l.mem;
	v->cpu_quota = l.cpu;
	*out = v;
	return 0;
}

void cgroup_view_free(cgroup_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < ARRAY_LEN(v->psi_fd); i++)
		if (v->psi_fd[i] >= 0)
			close(v->psi_fd[i]);
	free(v->line);
	free(v->v2_dir);
	free(v);
}

enum cgroup_layout cgroup_view_layout(const cgroup_view *v)
{
	return v->layout;
}

uint64_t cgroup_view_mem_limit(const cgroup_view *v)
{
	return v->mem_limit;
}

double cgroup_view_cpu_quota(const cgroup_view *v)
{
	return v->cpu_quota;
}

const char *cgroup_view_path_line(const cgroup_view *v)
{
	return v->line;
}

int cgroup_view_psi(cgroup_view *v, enum cgroup_psi which, double *out)
{
	static const char *const names[] = {"cpu.pressure", "memory.pressure"};
	char buf[256];
	ssize_t n;
	int *fd = &v->psi_fd[which];

	if (*fd == FD_UNOPENED) {
		char path[PATH_MAX];
		if (!v->v2_dir ||
		    !util_snprintf(path, sizeof(path), "%s/%s", v->v2_dir, names[which])) {
			*fd = FD_ABSENT;
		} else {
			*fd = open(path, O_RDONLY | O_CLOEXEC);
			if (*fd < 0)
				*fd = FD_ABSENT;
		}
	}
	if (*fd == FD_ABSENT)
		return -ENOENT;
	n = pread(*fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	return procfs_parse_psi_some_avg10(buf, (size_t)n, out);
}
