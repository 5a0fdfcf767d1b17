/* core_guard: whether forking a snapshot inside a process is safe (memory headroom, seccomp, pid namespace). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "capture/native/core_guard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"

static int64_t read_kb_field(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	long long v;
	if (!p || sscanf(p + strlen(key), " %lld", &v) != 1)
		return -1;
	return v * 1024;
}

/* A cgroup file's number; "max" and v1's "no limit" are UINT64_MAX. */
static int read_u64(const char *path, uint64_t *v)
{
	char *t = NULL;
	int rc = util_read_file(path, &t, NULL, 256);
	if (rc < 0)
		return rc;
	if (!strncmp(t, "max", 3))
		*v = UINT64_MAX;
	else
		*v = strtoull(t, NULL, 10);
	if (*v >= (1ULL << 62))
		*v = UINT64_MAX;
	free(t);
	return 0;
}

/* Walks dir and its parents up to root; keeps the smallest limit - usage. */
static void walk_cgroup(const char *root, const char *dir, const char *limf, const char *usef,
			uint64_t *best, char *where, size_t wherelen)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s", dir);
	for (;;) {
		char lp[4200], up[4200];
		uint64_t lim, use;
		snprintf(lp, sizeof(lp), "%s/%s", p, limf);
		snprintf(up, sizeof(up), "%s/%s", p, usef);
		if (read_u64(lp, &lim) == 0 && read_u64(up, &use) == 0 && lim != UINT64_MAX) {
			uint64_t f = lim > use ? lim - use : 0;
			if (f < *best) {
				*best = f;
				snprintf(where, wherelen, "cgroup %s", p + strlen(root));
			}
		}
		char *slash = strrchr(p, '/');
		if (!slash || (size_t)(slash - p) < strlen(root))
			break;
		*slash = '\0';
	}
}

int core_guard_headroom(pid_t pid, const char *cgroup_root, uint64_t *free_bytes, char *where,
		       size_t wherelen)
{
	char *mi = NULL, *cg = NULL, *line, *save = NULL;
	char path[64];
	int rc;

	rc = util_read_file("/proc/meminfo", &mi, NULL, 1 << 16);
	if (rc < 0)
		return rc;
	int64_t avail = read_kb_field(mi, "MemAvailable:");
	free(mi);
	*free_bytes = avail >= 0 ? (uint64_t)avail : UINT64_MAX;
	snprintf(where, wherelen, "MemAvailable");
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (util_read_file(path, &cg, NULL, 1 << 16) < 0)
		return 0;
	char v2root[4096];
	struct stat sb;
	snprintf(v2root, sizeof(v2root), "%s/cgroup.controllers", cgroup_root);
	if (stat(v2root, &sb) == 0)
		snprintf(v2root, sizeof(v2root), "%s", cgroup_root);
	else
		snprintf(v2root, sizeof(v2root), "%s/unified", cgroup_root);
	for (line = strtok_r(cg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char dir[8192], root[4200];
		if (!c2)
			continue;
		if (!strncmp(line, "0::", 3)) {
			snprintf(dir, sizeof(dir), "%s%s", v2root, c2 + 1);
			walk_cgroup(v2root, dir, "memory.max", "memory.current", free_bytes, where, wherelen);
		} else if (strstr(c1, "memory") && strstr(c1, "memory") < c2) {
			snprintf(root, sizeof(root), "%s/memory", cgroup_root);
			snprintf(dir, sizeof(dir), "%s%s", root, c2 + 1);
			walk_cgroup(root, dir, "memory.limit_in_bytes", "memory.usage_in_bytes", free_bytes,
				    where, wherelen);
		}
	}
	free(cg);
	return 0;
}

/*
 * What copy-on-write may cost while the child lives: every private page the
 * service might write (its anonymous memory, the worst case) and the page
 * tables fork copies.
 */
uint64_t core_guard_cow_need(pid_t pid)
{
	char path[64], *t = NULL;
	int64_t anon = 0, pte = 0;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (util_read_file(path, &t, NULL, 1 << 16) == 0)
		anon = read_kb_field(t, "Anonymous:");
	free(t);
	t = NULL;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (util_read_file(path, &t, NULL, 1 << 16) == 0)
		pte = read_kb_field(t, "VmPTE:");
	free(t);
	return (uint64_t)(anon > 0 ? anon : 0) + (uint64_t)(pte > 0 ? pte : 0) + (16u << 20);
}

/*
 * True when a seccomp filter guards pid: the filter may kill the process for
 * a system call the injected sequence makes (clone, close_range), so a
 * filtered process is never made to run it.
 */
bool core_guard_seccomp(pid_t pid)
{
	char path[64], *t = NULL;
	bool r = false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (util_read_file(path, &t, NULL, 1 << 16) == 0) {
		char *p = strstr(t, "\nSeccomp:");
		r = p && atoi(p + 9) == 2;
	}
	free(t);
	return r;
}

/* True when pid is the init of its pid namespace: CLONE_PARENT is refused there. */
bool core_guard_ns_init(pid_t pid)
{
	char path[64], *t = NULL;
	bool r = false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (util_read_file(path, &t, NULL, 1 << 16) == 0) {
		char *p = strstr(t, "\nNSpid:");
		if (p) {
			char *end = strchr(p + 1, '\n');
			if (end)
				*end = '\0';
			char *last = strrchr(p, '\t');
			r = last && atoi(last + 1) == 1;
		}
	}
	free(t);
	return r;
}

