/* procs: process discovery (/proc listing, incremental) and target selectors. */
#include "agent/procs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/procfs.h"
#include "lib/util.h"

#define PF_KTHREAD 0x00200000UL
#define CMDLINE_MAX (128 * 1024) /* longer command lines are cut */

/*
 * What a scan remembers of one process between scans. The costly reads
 * (status for the uid, cmdline, exe, cgroup) happen once per process: when
 * its PID first shows up, or when the same PID turns out to be another
 * process (other start time), to have exec'd (other comm) or to have changed
 * credentials (the owner of its /proc files follows the effective uid and
 * turns to root when credentials change). Every scan still reads each
 * process's stat: one small read that tells all of that.
 */
struct pentry {
	pid_t pid; /* 0: free slot */
	uint64_t start_ticks;
	uid_t uid, owner; /* effective uid (status); owner of /proc/PID/stat */
	bool skip;	  /* kernel thread or zombie: never reported */
	unsigned seen;	  /* the scan that last listed it */
	char comm[PROCFS_COMM_MAX];
	char *cmdline, *exe, *cgroup; /* per the scan's needs, NULL when unreadable */
};

struct procs_scan {
	char *root;
	int root_fd;
	unsigned need;
	pid_t self;
	unsigned gen;
	struct pentry *tab; /* open addressing on pid, cap a power of two */
	size_t cap, used;
	char *buf; /* read buffer, CMDLINE_MAX + 1 */
};

int procs_scan_new(const char *proc_root, unsigned need, procs_scan **out)
{
	const char *root = proc_root ? proc_root : "/proc";
	int fd;

	*out = NULL;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	procs_scan *s = xcalloc(1, sizeof(*s));
	s->root = xstrdup(root);
	s->root_fd = fd;
	s->need = need;
	s->self = getpid();
	s->cap = 256;
	s->tab = xcalloc(s->cap, sizeof(*s->tab));
	s->buf = xmalloc(CMDLINE_MAX + 1);
	*out = s;
	return 0;
}

static void entry_clear(struct pentry *e)
{
	free(e->cmdline);
	free(e->exe);
	free(e->cgroup);
	memset(e, 0, sizeof(*e));
}

void procs_scan_free(procs_scan *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		entry_clear(&s->tab[i]);
	free(s->tab);
	free(s->buf);
	free(s->root);
	close(s->root_fd);
	free(s);
}

static size_t slot_of(const procs_scan *s, pid_t pid)
{
	return ((size_t)pid * 2654435761u) & (s->cap - 1);
}

/* The entry of pid, or the free slot where it goes. */
static struct pentry *lookup(procs_scan *s, pid_t pid)
{
	for (size_t i = slot_of(s, pid);; i = (i + 1) & (s->cap - 1))
		if (s->tab[i].pid == pid || s->tab[i].pid == 0)
			return &s->tab[i];
}

/* Rebuilds the table at cap (dropping entries not listed by this scan when prune). */
static void rehash(procs_scan *s, size_t cap, bool prune)
{
	struct pentry *old = s->tab;
	size_t ocap = s->cap;

	s->tab = xcalloc(cap, sizeof(*s->tab));
	s->cap = cap;
	s->used = 0;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].pid)
			continue;
		if (prune && old[i].seen != s->gen) {
			entry_clear(&old[i]);
			continue;
		}
		*lookup(s, old[i].pid) = old[i];
		s->used++;
	}
	free(old);
}

/* Reads ROOT/PID/NAME into s->buf (NUL-terminated); its length or -errno. */
static ssize_t read_pid_file(procs_scan *s, pid_t pid, const char *name, size_t max,
			     struct stat *st)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%d/%s", (int)pid, name);
	fd = openat(s->root_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = util_read_full(fd, s->buf, max);
	if (n >= 0 && st && fstat(fd, st) < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		s->buf[n] = '\0';
	return n;
}

/* The arguments joined by spaces (NUL bytes between them in the file), malloc'd. */
static char *read_cmdline(procs_scan *s, pid_t pid)
{
	ssize_t n = read_pid_file(s, pid, "cmdline", CMDLINE_MAX, NULL);
	if (n < 0)
		return NULL;
	while (n > 0 && s->buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (s->buf[i] == '\0')
			s->buf[i] = ' ';
	return xstrndup(s->buf, (size_t)n);
}

/* Fills e's once-per-process fields; false when the process is gone. */
static bool entry_fill(procs_scan *s, struct pentry *e)
{
	struct procfs_status status;
	char path[64];
	ssize_t n;

	free(e->cmdline);
	free(e->exe);
	free(e->cgroup);
	e->cmdline = e->exe = e->cgroup = NULL;
	if (e->skip)
		return true;
	n = read_pid_file(s, e->pid, "status", 8192, NULL);
	if (n < 0 || procfs_parse_status(s->buf, (size_t)n, &status) < 0)
		return false;
	e->uid = status.euid;
	if (s->need & PROCS_NEED_CMDLINE)
		e->cmdline = read_cmdline(s, e->pid);
	if (s->need & PROCS_NEED_EXE) {
		snprintf(path, sizeof(path), "%d/exe", (int)e->pid);
		n = readlinkat(s->root_fd, path, s->buf, PATH_MAX - 1);
		if (n >= 0)
			e->exe = xstrndup(s->buf, (size_t)n);
	}
	if (s->need & PROCS_NEED_CGROUP) {
		n = read_pid_file(s, e->pid, "cgroup", 8191, NULL);
		if (n >= 0)
			e->cgroup = xstrndup(s->buf, (size_t)n);
	}
	return true;
}

/*
 * Does PID have threads besides its leader? A thread other than the leader
 * leaves the task list as it exits, so a zombie leader with others listed
 * is a process whose main thread exited (pthread_exit) and that still runs.
 */
static bool other_threads(procs_scan *s, pid_t pid)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/task", (int)pid);
	int fd = openat(s->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	int n = 0;
	struct dirent *de;
	while (n < 2 && (de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n >= 2;
}

/* Brings pid's entry up to date; NULL when the process is gone or unreadable. */
static struct pentry *refresh(procs_scan *s, pid_t pid)
{
	struct procfs_stat st;
	struct stat fst;
	ssize_t n = read_pid_file(s, pid, "stat", 1024, &fst);

	if (n < 0 || procfs_parse_stat(s->buf, (size_t)n, &st) < 0)
		return NULL;
	struct pentry *e = lookup(s, pid);
	bool fresh = e->pid == 0;
	if (fresh) {
		if (2 * (s->used + 1) > s->cap) {
			rehash(s, s->cap * 2, false);
			e = lookup(s, pid);
		}
		e->pid = pid;
		s->used++;
	}
	e->seen = s->gen;
	/* a zombie leader with live threads: the main thread exited, the process runs */
	bool skip = (st.flags & PF_KTHREAD) || st.state == 'X' ||
		    (st.state == 'Z' && !other_threads(s, pid));
	if (fresh || e->start_ticks != st.start_ticks || e->owner != fst.st_uid ||
	    strcmp(e->comm, st.comm) != 0 || e->skip != skip) {
		e->start_ticks = st.start_ticks;
		e->owner = fst.st_uid;
		e->skip = skip;
		snprintf(e->comm, sizeof(e->comm), "%s", st.comm);
		if (!entry_fill(s, e)) {
			e->start_ticks = 0; /* read it all again if it is still there next time */
			return NULL;
		}
	}
	return e;
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
	int dfd = openat(s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		return -e;
	}
	s->gen++;
	while ((de = readdir(d))) {
		char *end;
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		long v = strtol(de->d_name, &end, 10);
		if (*end || v <= 0 || v > INT32_MAX || (pid_t)v == s->self)
			continue;
		struct pentry *e = refresh(s, (pid_t)v);
		if (!e || e->skip)
			continue;
		struct proc_ident id = {
		    .pid = e->pid,
		    .start_ticks = e->start_ticks,
		    .uid = e->uid,
		    .comm = e->comm,
		    .cmdline = e->cmdline,
		    .exe = e->exe,
		    .cgroup = e->cgroup,
		};
		fn(&id, arg);
	}
	closedir(d);
	/* Forget the processes that left; shrink the table when most did. */
	size_t live = 0;
	for (size_t i = 0; i < s->cap; i++)
		live += s->tab[i].pid && s->tab[i].seen == s->gen;
	size_t cap = 256;
	while (cap < 2 * live + 2)
		cap *= 2;
	if (live != s->used || cap < s->cap)
		rehash(s, cap > s->cap ? s->cap : cap, true);
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
