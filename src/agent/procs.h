/* procs: process discovery (/proc listing, incremental) and target selectors. */
#ifndef HOUND_PROCS_H
#define HOUND_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"

/* What a scan knows about one process. Strings are valid during the callback only. */
struct proc_ident {
	pid_t pid;
	uint64_t start_ticks; /* clock ticks after boot (stat field 22) */
	uid_t uid;	      /* effective uid */
	const char *comm;
	const char *cmdline; /* args joined by spaces; NULL unless PROCS_NEED_CMDLINE */
	const char *exe;     /* NULL unless PROCS_NEED_EXE (or unreadable) */
	const char *cgroup;  /* /proc/PID/cgroup content; NULL unless PROCS_NEED_CGROUP */
};

typedef struct procs_scan procs_scan;

/* Fields a scan fills beyond pid, start_ticks, uid and comm. */
enum { PROCS_NEED_CMDLINE = 1, PROCS_NEED_EXE = 2, PROCS_NEED_CGROUP = 4 };

/*
 * A discovery context over proc_root (NULL: "/proc"). It remembers every
 * process between scans, so a scan reads each process's small stat file and
 * nothing more, unless the process is new, exec'd or changed credentials
 * (then its status, and the cmdline, exe and cgroup the need bits ask for,
 * are read again). Returns 0 and *out (free with procs_scan_free) or -errno
 * when proc_root cannot be opened.
 */
int procs_scan_new(const char *proc_root, unsigned need, procs_scan **out);
/*
 * Calls fn once for every process (not threads), kernel threads, zombies and
 * hound itself excluded. id and its strings are valid during the callback
 * only. Returns 0 or -errno when the proc root could not be listed.
 */
int procs_scan_run(procs_scan *s, void (*fn)(const struct proc_ident *id, void *arg), void *arg);
void procs_scan_free(procs_scan *s);

/*
 * The PROCS_NEED_* bits a scan must fill for sel: PROCS_NEED_CMDLINE for a
 * cmdline selector. exe and cgroup selectors need no bit: procs_selector_match
 * reads /proc/PID/exe and /proc/PID/cgroup itself, and only for processes that
 * the cheaper selectors already let through, when the id lacks them.
 */
unsigned procs_selector_needs(const struct selector_conf *sel);

/* Reads a pidfile (a decimal pid, optional blanks/newline). 0, -errno or -EINVAL. */
int procs_read_pidfile(const char *path, pid_t *out);

/*
 * True when all the given selectors hold (AND). pidfile_pid: the pid read
 * from sel->pidfile this scan, 0 when unreadable (then a pidfile selector
 * never matches). A selector_conf with no selector matches nothing. Kernel
 * threads and hound itself never match.
 */
bool procs_selector_match(const struct selector_conf *sel, const struct proc_ident *id,
			  pid_t pidfile_pid);


#endif
