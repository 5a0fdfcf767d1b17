/* core_guard: whether forking a snapshot inside a process is safe (memory headroom, seccomp, pid namespace). */
#ifndef HOUND_CORE_GUARD_H
#define HOUND_CORE_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Bytes of memory headroom for pid: min(MemAvailable, for each cgroup from the
 * process's own up to the root: limit - usage). Reads files under cgroup_root
 * (v2, v1 or hybrid) and /proc/meminfo; where names the tightest one. Returns
 * 0 and *free_bytes, or -errno.
 */
int core_guard_headroom(pid_t pid, const char *cgroup_root, uint64_t *free_bytes, char *where,
			size_t wherelen);

/*
 * What copy-on-write may cost while a snapshot child lives: every private
 * page the service might write (its anonymous memory, the worst case), its
 * page tables, and a margin.
 */
uint64_t core_guard_cow_need(pid_t pid);

/* True when a seccomp filter guards pid (it could kill the process for the fork sequence). */
bool core_guard_seccomp(pid_t pid);

/* True when pid is the init of its pid namespace (CLONE_PARENT is refused there). */
bool core_guard_ns_init(pid_t pid);

#endif
