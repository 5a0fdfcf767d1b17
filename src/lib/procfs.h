/* procfs: pure parsers for /proc and cgroup files (no I/O, no allocation). */
#ifndef HOUND_PROCFS_H
#define HOUND_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Every parser takes a buffer that need not be NUL-terminated, returns 0 on
 * success and -EINVAL when the content is truncated, lacks a field or holds
 * garbage. On -EINVAL *out is unspecified. None of them reads past buf + len.
 */

#define PROCFS_COMM_MAX	 64 /* kernel threads may have names up to 63 bytes */
#define PROCFS_UNLIMITED UINT64_MAX

/* The used subset of /proc/PID/stat (field numbers from proc(5)). */
struct procfs_stat {
	pid_t pid;		    /* 1 */
	char comm[PROCFS_COMM_MAX]; /* 2, without the parentheses, truncated */
	char state;		    /* 3 */
	pid_t ppid;		    /* 4 */
	unsigned long flags;	    /* 9 (PF_KTHREAD = 0x00200000) */
	uint64_t utime, stime;	    /* 14, 15: clock ticks */
	long num_threads;	    /* 20 */
	uint64_t start_ticks;	    /* 22: clock ticks after boot */
	uint64_t rss_pages;	    /* 24 */
};
int procfs_parse_stat(const char *buf, size_t len, struct procfs_stat *out);

/* /proc/PID/statm: "size resident shared text lib data dt", in pages. */
struct procfs_statm {
	uint64_t size, resident, shared;
};
int procfs_parse_statm(const char *buf, size_t len, struct procfs_statm *out);

/* /proc/PID/status. A field absent from the file (kernel threads have no
 * RssAnon) leaves its has_ flag false; only Uid and Threads are required. */
struct procfs_status {
	uid_t ruid, euid;
	long threads;
	bool has_rss_anon;
	uint64_t rss_anon; /* bytes */
};
int procfs_parse_status(const char *buf, size_t len, struct procfs_status *out);

/* /proc/PID/schedstat: "run_ns wait_ns slices". */
struct procfs_schedstat {
	uint64_t run_ns, wait_ns, slices;
};
int procfs_parse_schedstat(const char *buf, size_t len, struct procfs_schedstat *out);

/* PSI file (/proc/pressure/X or cgroup X.pressure): the "some avg10" value, %. */
int procfs_parse_psi_some_avg10(const char *buf, size_t len, double *out);

/* /proc/meminfo: MemTotal in bytes. */
int procfs_parse_meminfo_total(const char *buf, size_t len, uint64_t *out);

/* /proc/stat: btime (boot time, seconds since the epoch). */
int procfs_parse_btime(const char *buf, size_t len, int64_t *out);

/*
 * One line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH". Pointers point into
 * the caller's buffer. v2 is hierarchy 0 with empty controllers.
 */
struct procfs_cgroup_line {
	unsigned hier;
	const char *controllers;
	size_t controllers_len;
	const char *path;
	size_t path_len;
};
int procfs_parse_cgroup_line(const char *line, size_t len, struct procfs_cgroup_line *out);
/*
 * Finds in the whole file the line for controller (e.g. "memory", "cpu"), or
 * the v2 line when controller is NULL. Returns 0, -ENOENT when absent, or
 * -EINVAL when a line is malformed.
 */
int procfs_cgroup_find(const char *buf, size_t len, const char *controller,
		       struct procfs_cgroup_line *out);

/* cgroup v2 cpu.max: "max 100000" (*quota_us = -1) or "200000 100000". */
int procfs_parse_cpu_max(const char *buf, size_t len, int64_t *quota_us, int64_t *period_us);
/* A file holding one signed integer (v1 cpu.cfs_quota_us, cpu.cfs_period_us). */
int procfs_parse_int64(const char *buf, size_t len, int64_t *out);
/* v2 memory.max or v1 memory.limit_in_bytes, bytes; "max" and v1's
 * page-counter maximum (any value >= 2^62) give PROCFS_UNLIMITED. */
int procfs_parse_mem_limit(const char *buf, size_t len, uint64_t *out);

#endif
