/* procs: process discovery (libproc2) and target selectors. */
#include "agent/procs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libproc2/pids.h>

#include "lib/procfs.h"
#include "lib/util.h"

#define PF_KTHREAD 0x00200000UL

/* Our item order; results are read by these indexes (see PLATFORM-NOTES). */
enum {
	I_PID,
	I_BEGAN,
	I_EUID,
	I_CMD,
	I_FLAGS,
	I_STATE,
	I_CMDLINE_V, /* only when PROCS_NEED_CMDLINE */
	I_MAX
};

struct procs_scan {
	struct pids_info *info;
	unsigned need;
	int nitems;
	pid_t self;
	char *cmdline; /* joined args, grown as needed, reused across processes */
	size_t cmdline_cap;
	char exe[PATH_MAX];
	char cgroup[8192];
};

int procs_scan_new(const char *proc_root, unsigned need, procs_scan **out)
{
	enum pids_item items[I_MAX] = {PIDS_ID_PID, PIDS_TICS_BEGAN, PIDS_ID_EUID,  PIDS_CMD,
				       PIDS_FLAGS,  PIDS_STATE,	     PIDS_CMDLINE_V};
	procs_scan *s;
	int r;

	*out = NULL;
	if (proc_root && strcmp(proc_root, "/proc") != 0)
		return -ENOTSUP;
	s = xcalloc(1, sizeof(*s));
	s->need = need;
	s->self = getpid();
	s->nitems = (need & PROCS_NEED_CMDLINE) ? I_MAX : I_CMDLINE_V;
	r = procps_pids_new(&s->info, items, s->nitems);
	if (r < 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void procs_scan_free(procs_scan *s)
{
	if (!s)
		return;
	procps_pids_unref(&s->info);
	free(s->cmdline);
	free(s);
}

static const char *join_args(procs_scan *s, char **argv)
{
	size_t need = 1, n = 0;

	for (char **a = argv; a && *a; a++)
		need += strlen(*a) + 1;
	if (need > s->cmdline_cap) {
		s->cmdline_cap = need < 4096 ? 4096 : need;
		s->cmdline = xrealloc(s->cmdline, s->cmdline_cap);
	}
	for (char **a = argv; a && *a; a++) {
		size_t l = strlen(*a);
		if (n)
			s->cmdline[n++] = ' ';
		memcpy(s->cmdline + n, *a, l);
		n += l;
	}
	s->cmdline[n] = '\0';
	return s->cmdline;
}

/* readlink of /proc/PID/exe into buf; NULL when unreadable (kernel thread, no privilege). */
static const char *read_exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static const char *read_cgroup(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = util_read_full(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

int procs_scan_run(procs_scan *s, void (*fn)(const struct proc_ident *id, void *arg), void *arg)
{
	struct pids_fetch *f = procps_pids_reap(s->info, PIDS_FETCH_TASKS_ONLY);

	if (!f)
		return errno ? -errno : -EIO;
	for (int i = 0; i < f->counts->total; i++) {
		struct pids_result *r = f->stacks[i]->head;
		struct proc_ident id = {0};

		/* a zombie leader with live threads: the main thread exited, the process runs */
		if ((r[I_FLAGS].result.ul_int & PF_KTHREAD) ||
		    (r[I_STATE].result.s_ch == 'Z' && util_proc_live_tid(r[I_PID].result.s_int) < 0) ||
		    r[I_PID].result.s_int == s->self)
			continue;
		id.pid = r[I_PID].result.s_int;
		id.start_ticks = r[I_BEGAN].result.ull_int;
		id.uid = r[I_EUID].result.u_int;
		id.comm = r[I_CMD].result.str ? r[I_CMD].result.str : "";
		if (s->need & PROCS_NEED_CMDLINE)
			id.cmdline = join_args(s, r[I_CMDLINE_V].result.strv);
		if (s->need & PROCS_NEED_EXE)
			id.exe = read_exe(id.pid, s->exe, sizeof(s->exe));
		if (s->need & PROCS_NEED_CGROUP)
			id.cgroup = read_cgroup(id.pid, s->cgroup, sizeof(s->cgroup));
		fn(&id, arg);
	}
	return 0;
}

unsigned procs_selector_needs(const struct selector_conf *sel)
{
	return sel->cmdline ? PROCS_NEED_CMDLINE : 0;
}

int procs_read_pidfile(const char *path, pid_t *out)
{
	char buf[64];
	int64_t v;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = util_read_full(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return (int)n;
	if (n == (ssize_t)sizeof(buf))
		return -EINVAL;
	/* Leading blanks are tolerated too: some daemons pad their pidfiles. */
	size_t off = 0;
	while (off < (size_t)n && (buf[off] == ' ' || buf[off] == '\t'))
		off++;
	if (procfs_parse_int64(buf + off, (size_t)n - off, &v) < 0 || v <= 0 || v > INT32_MAX)
		return -EINVAL;
	*out = (pid_t)v;
	return 0;
}

bool procs_selector_match(const struct selector_conf *sel, const struct proc_ident *id,
			  pid_t pidfile_pid)
{
	bool any = false;

	if (id->pid == getpid())
		return false;
	/* Cheapest first: integers, then strings, then regexes, then file reads. */
	if (sel->has_pid) {
		if (id->pid != sel->pid)
			return false;
		any = true;
	}
	if (sel->pidfile) {
		if (pidfile_pid <= 0 || id->pid != pidfile_pid)
			return false;
		any = true;
	}
	if (sel->user) {
		if (id->uid != sel->uid)
			return false;
		any = true;
	}
	if (sel->comm) {
		if (!id->comm || strcmp(id->comm, sel->comm) != 0)
			return false;
		any = true;
	}
	if (sel->cmdline) {
		if (!id->cmdline || regexec(&sel->cmdline_re, id->cmdline, 0, NULL, 0) != 0)
			return false;
		any = true;
	}
	if (sel->exe) {
		char buf[PATH_MAX];
		const char *exe = id->exe ? id->exe : read_exe(id->pid, buf, sizeof(buf));
		if (!exe || strcmp(exe, sel->exe) != 0)
			return false;
		any = true;
	}
	if (sel->cgroup) {
		char buf[8192];
		const char *cg = id->cgroup ? id->cgroup : read_cgroup(id->pid, buf, sizeof(buf));
		if (!cg || regexec(&sel->cgroup_re, cg, 0, NULL, 0) != 0)
			return false;
		any = true;
	}
	return any;
}
