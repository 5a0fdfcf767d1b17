/* proc: the per-process sampling hot path over kept-open /proc and cgroup files. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getdents64 */
#endif
#include "agent/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/cgroup.h"
#include "lib/fdbudget.h"
#include "lib/procfs.h"
#include "lib/util.h"

#define FD_UNOPENED (-1)
#define FD_FAILED   (-2) /* open failed once (e.g. EACCES): not retried */

enum pfile { PF_STATM, PF_STATUS, PF_SCHEDSTAT, PF_FDDIR, PF_COUNT };

static const char *const pfile_names[PF_COUNT] = {"statm", "status", "schedstat", "fd"};

struct host_sampler {
	int meminfo_fd;
	int psi_fd[2]; /* cpu, memory; -1 when absent */
	double mem_total;
	double psi[2]; /* -1 when absent or unreadable */
};

struct proc_handle {
	pid_t pid;
	bool dead;
	/*
	 * unkept: past the fd budget, this process is sampled with
	 * open/read/close of path/FILE (its identity checked by start time
	 * on every read) instead of kept fds.
	 */
	bool unkept;
	bool leader_gone; /* main thread exited, others run: files via a live thread */
	int nkept; /* fds taken from the fd budget */
	char path[64];
	int dirfd, stat_fd;
	int fd[PF_COUNT];
	uint64_t start_ticks;
	int64_t start_wall_ms;
	cgroup_view *cg;
	double mem_total; /* MemTotal at open, used when no host sampler is given */
	long page_size, hz;
	char comm[PROCFS_COMM_MAX];
	/* Delta state. */
	bool have_cpu;
	uint64_t prev_ticks;
	int64_t prev_cpu_ms;
	bool have_wait;
	uint64_t prev_wait_ns;
	int64_t prev_wait_ms;
};

/* ---- host ---- */

static int open_in(const char *root, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (!util_snprintf(path, sizeof(path), "%s/%s", root, name))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int host_sampler_new(const char *proc_root, host_sampler **out)
{
	host_sampler *h;
	int fd, r;

	*out = NULL;
	fd = open_in(proc_root, "meminfo");
	if (fd < 0)
		return fd;
	h = xcalloc(1, sizeof(*h));
	h->meminfo_fd = fd;
	h->psi_fd[0] = open_in(proc_root, "pressure/cpu");
	h->psi_fd[1] = open_in(proc_root, "pressure/memory");
	r = host_sampler_refresh(h);
	if (r < 0) {
		host_sampler_free(h);
		return r;
	}
	*out = h;
	return 0;
}

int host_sampler_refresh(host_sampler *h)
{
	char buf[512]; /* MemTotal is the first line of meminfo */
	uint64_t total;
	ssize_t n;

	for (int i = 0; i < 2; i++) {
		h->psi[i] = -1;
		if (h->psi_fd[i] < 0)
			continue;
		n = pread(h->psi_fd[i], buf, sizeof(buf), 0);
		if (n > 0 && procfs_parse_psi_some_avg10(buf, (size_t)n, &h->psi[i]) < 0)
			h->psi[i] = -1;
	}
	n = pread(h->meminfo_fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	if (procfs_parse_meminfo_total(buf, (size_t)n, &total) < 0)
		return -EINVAL;
	h->mem_total = (double)total;
	return 0;
}

void host_sampler_free(host_sampler *h)
{
	if (!h)
		return;
	close(h->meminfo_fd);
	for (int i = 0; i < 2; i++)
		if (h->psi_fd[i] >= 0)
			close(h->psi_fd[i]);
	free(h);
}

double host_sampler_mem_total(const host_sampler *h)
{
	return h->mem_total;
}

double host_sampler_psi_cpu(const host_sampler *h)
{
	return h->psi[0];
}

double host_sampler_psi_memory(const host_sampler *h)
{
	return h->psi[1];
}

/* ---- boot time (read once per proc root: /proc/stat is large) ---- */

static pthread_mutex_t btime_lock = PTHREAD_MUTEX_INITIALIZER;
static char btime_root[PATH_MAX];
static int64_t btime_cached;

static int64_t boot_time(const char *proc_root)
{
	char path[PATH_MAX];
	int64_t bt = 0;
	char *buf;
	size_t len;

	pthread_mutex_lock(&btime_lock);
	if (btime_cached && strcmp(btime_root, proc_root) == 0) {
		bt = btime_cached;
		goto out;
	}
	if (util_snprintf(path, sizeof(path), "%s/stat", proc_root) &&
	    util_read_file(path, &buf, &len, 4 << 20) == 0) {
		if (procfs_parse_btime(buf, len, &bt) == 0) {
			btime_cached = bt;
			util_snprintf(btime_root, sizeof(btime_root), "%s", proc_root);
		}
		free(buf);
	}
out:
	pthread_mutex_unlock(&btime_lock);
	return bt;
}

/* ---- handle ---- */

static bool gone_errno(int e)
{
	return e == ESRCH || e == ENOENT;
}

/* Reads and parses stat; marks the handle dead when the process is gone. */
static int read_stat(proc_handle *h, struct procfs_stat *st)
{
	char buf[1024];
	ssize_t n;
	if (h->stat_fd >= 0) {
		n = pread(h->stat_fd, buf, sizeof(buf), 0);
	} else {
		char path[80];
		snprintf(path, sizeof(path), "%s/stat", h->path);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			if (!gone_errno(e))
				return -e;
			h->dead = true;
			return -ESRCH;
		}
		n = pread(fd, buf, sizeof(buf), 0);
		int e = errno;
		close(fd);
		errno = e;
	}

	if (n < 0) {
		int e = errno;
		if (!gone_errno(e))
			return -e;
		h->dead = true;
		return -ESRCH;
	}
	if (n == 0 || procfs_parse_stat(buf, (size_t)n, st) < 0) {
		/* An exiting process can yield an empty read. */
		if (n == 0) {
			h->dead = true;
			return -ESRCH;
		}
		return -EINVAL;
	}
	if (st->state == 'Z' && !h->leader_gone && util_proc_live_tid(h->pid) > 0) {
		/*
		 * The main thread exited (pthread_exit) but others run: the
		 * process lives. Its per-process memory files are empty now, so
		 * they are read through a live thread from here on.
		 */
		h->leader_gone = true;
	}
	if ((st->state == 'Z' && !h->leader_gone) || st->state == 'X' ||
	    (h->unkept && h->start_ticks && st->start_ticks != h->start_ticks)) {
		/* without a kept dir fd, a reused PID shows as another start time */
		h->dead = true;
		return -ESRCH;
	}
	return 0;
}

int proc_handle_open(const char *proc_root, const char *cgroup_root, pid_t pid,
		     uint64_t start_ticks, proc_handle **out)
{
	char path[PATH_MAX], buf[4096];
	struct procfs_stat st;
	proc_handle *h;
	ssize_t n;
	int fd, r;

	*out = NULL;
	if (pid <= 0 || !util_snprintf(path, sizeof(path), "%s/%d", proc_root, (int)pid))
		return -EINVAL;
	h = xcalloc(1, sizeof(*h));
	h->pid = pid;
	if (!util_snprintf(h->path, sizeof(h->path), "%s", path)) {
		free(h);
		return -ENAMETOOLONG;
	}
	if (fdbudget_take(2)) {
		h->nkept = 2;
	} else {
		h->unkept = true;
		fdbudget_degraded(1);
	}
	h->stat_fd = -1;
	for (int i = 0; i < PF_COUNT; i++)
		h->fd[i] = FD_UNOPENED;
	h->page_size = sysconf(_SC_PAGESIZE);
	h->hz = sysconf(_SC_CLK_TCK);
	h->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->dirfd < 0) {
		r = gone_errno(errno) ? -ESRCH : -errno;
		goto fail;
	}
	h->stat_fd = openat(h->dirfd, "stat", O_RDONLY | O_CLOEXEC);
	if (h->stat_fd < 0) {
		r = gone_errno(errno) ? -ESRCH : -errno;
		goto fail;
	}
	r = read_stat(h, &st);
	if (r < 0)
		goto fail;
	if (start_ticks && st.start_ticks != start_ticks) {
		r = -ESRCH;
		goto fail;
	}
	h->start_ticks = st.start_ticks;
	memcpy(h->comm, st.comm, sizeof(h->comm));
	h->start_wall_ms =
	    boot_time(proc_root) * 1000 + (int64_t)(st.start_ticks * 1000 / (uint64_t)h->hz);

	n = 0;
	fd = openat(h->dirfd, "cgroup", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = pread(fd, buf, sizeof(buf), 0);
		close(fd);
		if (n < 0)
			n = 0;
	}
	r = cgroup_view_open(cgroup_root, buf, (size_t)n, &h->cg);
	if (r < 0)
		goto fail;

	if (util_snprintf(path, sizeof(path), "%s/meminfo", proc_root)) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			uint64_t total;
			n = pread(fd, buf, 512, 0);
			if (n > 0 && procfs_parse_meminfo_total(buf, (size_t)n, &total) == 0)
				h->mem_total = (double)total;
			close(fd);
		}
	}
	if (h->unkept) {
		close(h->stat_fd);
		close(h->dirfd);
		h->stat_fd = h->dirfd = -1;
	}
	*out = h;
	return 0;
fail:
	proc_handle_free(h);
	return r;
}

/* Opens f for one read (past the fd budget); the caller closes it. */
static int pfile_open_once(proc_handle *h, enum pfile f)
{
	int flags = O_RDONLY | O_CLOEXEC | (f == PF_FDDIR ? O_DIRECTORY : 0);
	int fd;
	pid_t tid = h->leader_gone ? util_proc_live_tid(h->pid) : h->pid;
	if (tid < 0) {
		h->dead = true; /* no thread left */
		return -ESRCH;
	}
	if (tid != h->pid) {
		char path[96];
		snprintf(path, sizeof(path), "%s/task/%d/%s", h->path, (int)tid, pfile_names[f]);
		fd = open(path, flags);
	} else if (h->dirfd >= 0) {
		fd = openat(h->dirfd, pfile_names[f], flags);
	} else {
		char path[80];
		snprintf(path, sizeof(path), "%s/%s", h->path, pfile_names[f]);
		fd = open(path, flags);
	}
	if (fd >= 0)
		return fd;
	int e = errno;
	if (gone_errno(e)) {
		h->dead = true;
		return -ESRCH;
	}
	return -e;
}

/*
 * Returns the fd for f: the kept one, opened on first use while the fd
 * budget allows, else one opened for this read only (*once set: close it).
 * -errno when unusable.
 */
static int pfile_fd(proc_handle *h, enum pfile f, bool *once)
{
	*once = false;
	if (h->leader_gone && h->fd[f] >= 0) {
		/* opened through the leader, which shows nothing now */
		close(h->fd[f]);
		h->fd[f] = FD_UNOPENED;
		h->nkept--;
		fdbudget_give(1);
	}
	if (h->fd[f] == FD_UNOPENED && (h->leader_gone || h->unkept || !fdbudget_take(1))) {
		*once = true;
		return pfile_open_once(h, f);
	}
	if (h->fd[f] == FD_UNOPENED) {
		int flags = O_RDONLY | O_CLOEXEC | (f == PF_FDDIR ? O_DIRECTORY : 0);
		h->fd[f] = openat(h->dirfd, pfile_names[f], flags);
		if (h->fd[f] >= 0)
			h->nkept++;
		else
			fdbudget_give(1);
		if (h->fd[f] < 0) {
			int e = errno;
			if (gone_errno(e)) {
				h->fd[f] = FD_UNOPENED;
				h->dead = true;
				return -ESRCH;
			}
			h->fd[f] = FD_FAILED;
			return -e;
		}
	}
	return h->fd[f] == FD_FAILED ? -EACCES : h->fd[f];
}

/* preads a kept file into buf; -ESRCH (and a dead handle) when the process is gone. */
static ssize_t pfile_read(proc_handle *h, enum pfile f, char *buf, size_t len)
{
	bool once;
	int fd = pfile_fd(h, f, &once);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = pread(fd, buf, len, 0);
	if (once) {
		int e = errno;
		close(fd);
		errno = e;
	}
	if (n < 0) {
		int e = errno;
		if (gone_errno(e)) {
			h->dead = true;
			return -ESRCH;
		}
		return -e;
	}
	return n;
}

/* Counts /proc/PID/fd entries: rewind the kept dir fd, getdents64 into a fixed buffer. */
static int count_fds(proc_handle *h, long *out)
{
	char buf[8192] __attribute__((aligned(8)));
	bool once;
	int fd = pfile_fd(h, PF_FDDIR, &once);
	long count = 0;
	ssize_t n;

	if (fd < 0)
		return fd;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		n = -errno;
		if (once)
			close(fd);
		return (int)n;
	}
	while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			const struct dirent64 *d =
			    (const struct dirent64 *)(const void *)(buf + off);
			if (d->d_name[0] != '.')
				count++;
			off += d->d_reclen;
		}
	}
	int e = errno;
	if (once)
		close(fd);
	if (n < 0) {
		if (gone_errno(e)) {
			h->dead = true;
			return -ESRCH;
		}
		return -e;
	}
	*out = count;
	return 0;
}

static double mem_limit(const proc_handle *h, const host_sampler *host)
{
	uint64_t cg = cgroup_view_mem_limit(h->cg);

	if (cg != PROCFS_UNLIMITED)
		return (double)cg;
	if (host && host->mem_total > 0)
		return host->mem_total;
	return h->mem_total;
}

static void set(struct proc_sample *out, enum metric_id m, double v)
{
	out->v[m] = v;
	out->valid |= METRIC_BIT(m);
}

int proc_handle_sample(proc_handle *h, host_sampler *host, uint64_t need, int64_t mono_ms,
		       int64_t wall_ms, struct proc_sample *out)
{
	struct procfs_stat st;
	char buf[4096];
	ssize_t n;
	int r;

	out->mono_ms = mono_ms;
	out->wall_ms = wall_ms;
	out->valid = 0;
	if (h->dead)
		return -ESRCH;
	/* stat is always read: it is the liveness check (a zombie still has statm). */
	r = read_stat(h, &st);
	if (r < 0)
		return r;

	uint64_t ticks = st.utime + st.stime;
	if (h->have_cpu && mono_ms > h->prev_cpu_ms && ticks >= h->prev_ticks) {
		double cpu_ms = (double)(ticks - h->prev_ticks) * 1000.0 / (double)h->hz;
		double cpu = cpu_ms / (double)(mono_ms - h->prev_cpu_ms) * 100.0;
		double quota = cgroup_view_cpu_quota(h->cg);
		if (need & METRIC_BIT(M_CPU))
			set(out, M_CPU, cpu);
		if ((need & METRIC_BIT(M_CPU_LIMIT)) && quota > 0)
			set(out, M_CPU_LIMIT, cpu / quota);
	}
	h->have_cpu = true;
	h->prev_ticks = ticks;
	h->prev_cpu_ms = mono_ms;
	if (need & METRIC_BIT(M_THREADS))
		set(out, M_THREADS, (double)st.num_threads);

	if (need & (METRIC_BIT(M_RSS) | METRIC_BIT(M_MEM))) {
		struct procfs_statm sm;
		n = pfile_read(h, PF_STATM, buf, sizeof(buf));
		if (n == -ESRCH)
			return -ESRCH;
		if (n > 0 && procfs_parse_statm(buf, (size_t)n, &sm) == 0) {
			double rss = (double)sm.resident * (double)h->page_size;
			double lim = mem_limit(h, host);
			if (need & METRIC_BIT(M_RSS))
				set(out, M_RSS, rss);
			if ((need & METRIC_BIT(M_MEM)) && lim > 0)
				set(out, M_MEM, rss / lim * 100.0);
		}
	}
	if (need & METRIC_BIT(M_RSS_ANON)) {
		struct procfs_status ps;
		n = pfile_read(h, PF_STATUS, buf, sizeof(buf));
		if (n == -ESRCH)
			return -ESRCH;
		if (n > 0 && procfs_parse_status(buf, (size_t)n, &ps) == 0 && ps.has_rss_anon)
			set(out, M_RSS_ANON, (double)ps.rss_anon);
	}
	if (need & METRIC_BIT(M_SCHED_WAIT)) {
		struct procfs_schedstat ss;
		n = pfile_read(h, PF_SCHEDSTAT, buf, sizeof(buf));
		if (n == -ESRCH)
			return -ESRCH;
		if (n > 0 && procfs_parse_schedstat(buf, (size_t)n, &ss) == 0) {
			if (h->have_wait && mono_ms > h->prev_wait_ms &&
			    ss.wait_ns >= h->prev_wait_ns)
				set(out, M_SCHED_WAIT,
				    (double)(ss.wait_ns - h->prev_wait_ns) / 1e3 /
					(double)(mono_ms - h->prev_wait_ms));
			h->have_wait = true;
			h->prev_wait_ns = ss.wait_ns;
			h->prev_wait_ms = mono_ms;
		}
	}
	if (need & METRIC_BIT(M_FDS)) {
		long count = 0;
		r = count_fds(h, &count);
		if (r == -ESRCH)
			return -ESRCH;
		if (r == 0)
			set(out, M_FDS, (double)count);
	}
	for (int i = 0; i < 2; i++) {
		enum metric_id m = i == 0 ? M_PSI_CPU : M_PSI_MEMORY;
		double v;
		if (!(need & METRIC_BIT(m)))
			continue;
		if (cgroup_view_psi(h->cg, i == 0 ? CGROUP_PSI_CPU : CGROUP_PSI_MEMORY, &v) == 0)
			set(out, m, v);
		else if (host && host->psi[i] >= 0)
			set(out, m, host->psi[i]);
	}
	return 0;
}

double proc_handle_mem_limit(const proc_handle *h)
{
	return mem_limit(h, NULL);
}

pid_t proc_handle_pid(const proc_handle *h)
{
	return h->pid;
}

uint64_t proc_handle_start_ticks(const proc_handle *h)
{
	return h->start_ticks;
}

int64_t proc_handle_start_wall_ms(const proc_handle *h)
{
	return h->start_wall_ms;
}

const char *proc_handle_cgroup(const proc_handle *h)
{
	return cgroup_view_path_line(h->cg);
}

const char *proc_handle_comm(const proc_handle *h)
{
	return h->comm;
}

int proc_handle_nfds(const proc_handle *h)
{
	int n = (h->dirfd >= 0) + (h->stat_fd >= 0);

	for (int i = 0; i < PF_COUNT; i++)
		n += h->fd[i] >= 0;
	return n;
}

void proc_handle_free(proc_handle *h)
{
	if (!h)
		return;
	for (int i = 0; i < PF_COUNT; i++)
		if (h->fd[i] >= 0)
			close(h->fd[i]);
	if (h->stat_fd >= 0)
		close(h->stat_fd);
	if (h->dirfd >= 0)
		close(h->dirfd);
	fdbudget_give(h->nkept);
	if (h->unkept)
		fdbudget_degraded(-1);
	cgroup_view_free(h->cg);
	free(h);
}
