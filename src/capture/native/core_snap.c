/* core_snap: a consistent snapshot of a process for a core dump, with the target frozen briefly. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "capture/native/core_snap.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/native/core_guard.h"
#include "capture/native/core_inject.h"
#include "lib/util.h"

/* How long a thread may take to reach its ptrace-stop, and the injected fork to finish. */
#define STOP_DEADLINE_NS (500 * 1000 * 1000LL)
#define INJECT_DEADLINE_NS (3000 * 1000 * 1000LL)
#define XSTATE_MAX 16384

#ifndef CLONE_PARENT
#define CLONE_PARENT 0x00008000
#endif

const char *core_method_name(enum core_method m)
{
	return m == CORE_FORK ? "fork" : "stop";
}

/* Waits for tid's next ptrace-stop or exit without blocking past the deadline. */
static int wait_tid(pid_t tid, int *status, int64_t deadline_ns)
{
	int64_t start = util_mono_ns();
	long spins = 0;

	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);
		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (util_mono_ns() - start > deadline_ns)
			return -ETIMEDOUT;
		if (++spins < 64) {
			sched_yield();
		} else {
			struct timespec ts = {0, 50 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

static bool has_tid(const struct core_snap *s, pid_t tid)
{
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].tid == tid)
			return true;
	return false;
}

static void read_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64], *t = NULL;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	buf[0] = '\0';
	if (util_read_file(path, &t, NULL, 256) == 0) {
		t[strcspn(t, "\n")] = '\0';
		snprintf(buf, len, "%s", t);
	}
	free(t);
}

/*
 * Seizes and interrupts every thread, listing /proc/PID/task again until no
 * new thread appears (a running thread may create one before it stops).
 * Returns the number of threads seized or -errno.
 */
static int seize_all(struct core_snap *s)
{
	char path[64];
	size_t cap = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)s->pid);
	for (int round = 0; round < 16; round++) {
		DIR *d = opendir(path);
		struct dirent *de;
		int added = 0;
		if (!d)
			return -errno;
		while ((de = readdir(d))) {
			pid_t tid = (pid_t)atoi(de->d_name);
			if (tid <= 0 || has_tid(s, tid))
				continue;
			if (s->nthreads == cap) {
				cap = cap ? cap * 2 : 64;
				s->threads = xrealloc(s->threads, cap * sizeof(*s->threads));
			}
			struct core_thread *t = &s->threads[s->nthreads];
			memset(t, 0, sizeof(*t));
			t->tid = tid;
			read_comm(s->pid, tid, t->comm, sizeof(t->comm));
			if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0) {
				int e = errno;
				if (e == ESRCH)
					continue;
				closedir(d);
				return -e;
			}
			if (s->freeze_start_ns == 0)
				s->freeze_start_ns = util_mono_ns();
			t->attached = true;
			s->nthreads++;
			added++;
			ptrace(PTRACE_INTERRUPT, tid, 0, 0);
		}
		closedir(d);
		if (!added)
			return (int)s->nthreads;
	}
	return (int)s->nthreads;
}

/* Waits for every seized thread's stop and reads its registers. */
static int stop_and_read(struct core_snap *s, char *err, size_t errlen)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->nthreads; i++) {
		struct core_thread *t = &s->threads[i];
		int st = 0, rc = wait_tid(t->tid, &st, STOP_DEADLINE_NS);
		if (rc == 0 && (WIFEXITED(st) || WIFSIGNALED(st))) {
			t->attached = false; /* exited meanwhile */
			continue;
		}
		if (rc < 0)
			return util_err(err, errlen, rc == -ETIMEDOUT ? -EAGAIN : rc,
					"thread %d did not stop within %lld ms (uninterruptible sleep?)",
					(int)t->tid, STOP_DEADLINE_NS / 1000000);
		if ((st >> 16) == 0)
			t->stopsig = WSTOPSIG(st);
		if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->regs) < 0 ||
		    ptrace(PTRACE_GETFPREGS, t->tid, 0, &t->fpregs) < 0)
			return util_err(err, errlen, -errno, "ptrace(PTRACE_GETREGS, %d): %s", (int)t->tid,
					strerror(errno));
		uint8_t xs[XSTATE_MAX];
		struct iovec iov = {xs, sizeof(xs)};
		if (ptrace(PTRACE_GETREGSET, t->tid, (void *)(long)NT_X86_XSTATE, &iov) == 0 && iov.iov_len) {
			t->xstate = xmalloc(iov.iov_len);
			memcpy(t->xstate, xs, iov.iov_len);
			t->xstate_len = iov.iov_len;
		}
		ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(t->sigmask), &t->sigmask);
		s->threads[kept++] = *t;
	}
	s->nthreads = kept;
	return kept ? 0 : util_err(err, errlen, -ESRCH, "process %d has no thread left", (int)s->pid);
}

/* Detaches tid; one still running (a timed-out wait) is stopped first, since only a stopped tracee detaches. */
static void release_tid(pid_t tid, int sig)
{
	int st;
	if (ptrace(PTRACE_DETACH, tid, 0, (void *)(long)sig) == 0 || errno != ESRCH)
		return;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return; /* gone, or not ours */
	if (wait_tid(tid, &st, STOP_DEADLINE_NS) == 0 && WIFSTOPPED(st))
		ptrace(PTRACE_DETACH, tid, 0, (void *)(long)((st >> 16) == 0 ? WSTOPSIG(st) : 0));
}

static void detach_all(struct core_snap *s)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		struct core_thread *t = &s->threads[i];
		if (t->attached)
			release_tid(t->tid, t->stopsig);
		t->attached = false;
	}
}

static long ppid_of(pid_t pid)
{
	char path[64], *t = NULL;
	long pp = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (util_read_file(path, &t, NULL, 1 << 16) == 0) {
		char *p = strstr(t, "\nPPid:");
		if (p)
			pp = atol(p + 6);
	}
	free(t);
	return pp;
}

static bool same_pidns(pid_t pid)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	return stat("/proc/self/ns/pid", &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

/* The child's PID as hound sees it: a sibling of the target whose innermost PID is nspid. */
static pid_t child_pid(pid_t pid, long nspid)
{
	if (same_pidns(pid))
		return (pid_t)nspid;
	long pp = ppid_of(pid);
	char path[64];
	DIR *d;
	struct dirent *de;
	pid_t found = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task", pp);
	d = opendir(path);
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		char cp[384], *kids = NULL, *tok, *sv = NULL;
		if (de->d_name[0] == '.')
			continue;
		snprintf(cp, sizeof(cp), "/proc/%ld/task/%s/children", pp, de->d_name);
		if (util_read_file(cp, &kids, NULL, 1 << 20) < 0)
			continue;
		for (tok = strtok_r(kids, " \n", &sv); tok && !found; tok = strtok_r(NULL, " \n", &sv)) {
			char sp[64], *st = NULL;
			snprintf(sp, sizeof(sp), "/proc/%s/status", tok);
			if (util_read_file(sp, &st, NULL, 1 << 16) == 0) {
				char *p = strstr(st, "\nNSpid:");
				char *end = p ? strchr(p + 1, '\n') : NULL;
				if (end)
					*end = '\0';
				char *last = p ? strrchr(p, '\t') : NULL;
				if (last && atol(last + 1) == nspid)
					found = (pid_t)atoi(tok);
			}
			free(st);
		}
		free(kids);
	}
	closedir(d);
	return found;
}

static struct core_thread *pick_thread(struct core_snap *s)
{
	struct core_thread *best = NULL;
	for (size_t i = 0; i < s->nthreads; i++) {
		struct core_thread *t = &s->threads[i];
		if (t->stopsig)
			continue; /* a signal-delivery stop: leave its signal alone */
		if (!best || t->tid == s->pid)
			best = t;
	}
	return best;
}

/*
 * Runs the trampoline in thread t up to the exit of its clone; returns the
 * child's PID in the target's namespace, or -errno (clone's own error, or
 * ours). On return t is still stopped, inside the trampoline.
 */
static long run_to_clone(struct core_thread *t, char *err, size_t errlen)
{
	int64_t start = util_mono_ns();
	long last_nr = -1;
	int sig = 0;

	for (;;) {
		int st = 0, rc;
		if (ptrace(PTRACE_SYSCALL, t->tid, 0, (void *)(long)sig) < 0)
			return util_err(err, errlen, -errno, "ptrace(PTRACE_SYSCALL, %d): %s", (int)t->tid,
					strerror(errno));
		sig = 0;
		rc = wait_tid(t->tid, &st, INJECT_DEADLINE_NS - (util_mono_ns() - start));
		if (rc < 0)
			return util_err(err, errlen, rc, "the injected fork in thread %d did not finish: %s",
					(int)t->tid, strerror(-rc));
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			t->attached = false;
			return util_err(err, errlen, -ESRCH, "thread %d exited during the snapshot", (int)t->tid);
		}
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info info;
			if (ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof(info), &info) <= 0)
				return util_err(err, errlen, -errno, "PTRACE_GET_SYSCALL_INFO: %s", strerror(errno));
			if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
				last_nr = (long)info.entry.nr;
			else if (info.op == PTRACE_SYSCALL_INFO_EXIT && last_nr == SYS_clone)
				return (long)info.exit.rval;
			continue;
		}
		/* A real signal arrived before the block: deliver it (its handler returns here). */
		if ((st >> 16) == 0)
			sig = WSTOPSIG(st);
	}
}

/* Holds the child: traced by hound with EXITKILL, so hound's death kills it. */
static int hold_child(struct core_snap *s, pid_t child, const struct core_hole *h, char *err, size_t errlen)
{
	struct user_regs_struct r;
	int st = 0, rc;

	if (ptrace(PTRACE_SEIZE, child, 0, (void *)(long)PTRACE_O_EXITKILL) < 0)
		return util_err(err, errlen, -errno, "ptrace(PTRACE_SEIZE, snapshot child %d): %s", (int)child,
				strerror(errno));
	ptrace(PTRACE_INTERRUPT, child, 0, 0);
	rc = wait_tid(child, &st, STOP_DEADLINE_NS);
	if (rc < 0 || !WIFSTOPPED(st)) {
		ptrace(PTRACE_DETACH, child, 0, 0);
		return util_err(err, errlen, rc < 0 ? rc : -ESRCH, "snapshot child %d did not stop",
				(int)child);
	}
	/* Only a process running hound's code is ours to kill. */
	if (ptrace(PTRACE_GETREGS, child, 0, &r) < 0 || r.rip < h->addr || r.rip >= h->addr + h->len) {
		ptrace(PTRACE_DETACH, child, 0, 0);
		return util_err(err, errlen, -ESRCH, "process %d is not the snapshot child", (int)child);
	}
	s->child = child;
	/* Hold it only once it sleeps: by then it has dropped the service's fds. */
	for (int i = 0; i < 500 && (long)r.orig_rax != SYS_nanosleep; i++) {
		struct timespec ts = {0, 1000 * 1000};
		if (ptrace(PTRACE_CONT, child, 0, 0) < 0)
			break;
		nanosleep(&ts, NULL);
		ptrace(PTRACE_INTERRUPT, child, 0, 0);
		if (wait_tid(child, &st, STOP_DEADLINE_NS) < 0 || !WIFSTOPPED(st) ||
		    ptrace(PTRACE_GETREGS, child, 0, &r) < 0)
			return util_err(err, errlen, -ESRCH, "snapshot child %d did not stop again", (int)child);
	}
	return 0;
}

/* The fork path; returns 1 when it fell back (reason in s->fallback) with nothing stopped. */
static int try_fork(struct core_snap *s, const struct core_snap_opts *o, char *err, size_t errlen)
{
	struct core_hole h;
	char mem[64], where[256];
	uint64_t avail = 0, need = o->headroom_need ? o->headroom_need : core_guard_cow_need(s->pid);
	int fd = -1, rc;

	if (core_guard_ns_init(s->pid)) {
		snprintf(s->fallback, sizeof(s->fallback),
			 "the process is its pid namespace's init: a fork snapshot would leave it a zombie");
		return 1;
	}
	if (core_guard_seccomp(s->pid)) {
		snprintf(s->fallback, sizeof(s->fallback),
			 "the process runs under a seccomp filter, which could kill it for the fork sequence's system calls");
		return 1;
	}
	if (core_guard_headroom(s->pid, o->cgroup_root ? o->cgroup_root : "/sys/fs/cgroup", &avail, where,
			       sizeof(where)) == 0 && avail < need) {
		snprintf(s->fallback, sizeof(s->fallback),
			 "no memory headroom for a fork snapshot: copy-on-write may need %" PRIu64
			 " MiB, %.200s has %" PRIu64 " MiB free",
			 need >> 20, where, avail >> 20);
		return 1;
	}
	if (core_hole_find(s->pid, CORE_TRAMP_MAX, &h) < 0) {
		snprintf(s->fallback, sizeof(s->fallback),
			 "no executable padding of %d bytes to place the fork sequence in", CORE_TRAMP_MAX);
		return 1;
	}
	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)s->pid);
	fd = open(mem, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(s->fallback, sizeof(s->fallback), "open(%s): %s", mem, strerror(errno));
		return 1;
	}
	s->patch.addr = h.addr;
	s->patch.len = CORE_TRAMP_MAX;
	if (pread(fd, s->patch.orig, s->patch.len, (off_t)h.addr) != (ssize_t)s->patch.len) {
		snprintf(s->fallback, sizeof(s->fallback), "cannot read %s: %s", mem, strerror(errno));
		s->patch.len = 0;
		close(fd);
		return 1;
	}

	rc = seize_all(s);
	if (rc < 0) {
		util_err(err, errlen, rc, "ptrace(PTRACE_SEIZE, %d): %s", (int)s->pid, strerror(-rc));
		goto fail;
	}
	rc = stop_and_read(s, err, errlen);
	if (rc < 0)
		goto fail;
	struct core_thread *t = pick_thread(s);
	if (!t) {
		detach_all(s);
		snprintf(s->fallback, sizeof(s->fallback), "every thread was stopped by a signal");
		close(fd);
		return 1;
	}
	struct core_tramp_args a = {
		.resume = core_tramp_resume_regs(&t->regs),
		.sigmask = t->sigmask,
		.clone_flags = CLONE_PARENT | SIGCHLD,
		.bound_s = o->child_bound_s ? o->child_bound_s : 10,
	};
	uint8_t code[CORE_TRAMP_MAX];
	ssize_t n = core_tramp_build(code, sizeof(code), h.addr, &a);
	if (n < 0 || pwrite(fd, code, (size_t)n, (off_t)h.addr) != n) {
		rc = util_err(err, errlen, n < 0 ? (int)n : -errno, "cannot place the fork sequence at %#" PRIx64,
			      h.addr);
		goto fail;
	}
	struct user_regs_struct r = t->regs;
	r.rip = h.addr;
	r.orig_rax = (unsigned long)-1;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, &r) < 0) {
		rc = util_err(err, errlen, -errno, "ptrace(PTRACE_SETREGS, %d): %s", (int)t->tid, strerror(errno));
		goto fail;
	}
	long ns_child = run_to_clone(t, err, errlen);
	/* Thread t finishes the sequence by itself and returns where it was. */
	detach_all(s);
	s->freeze_ns = util_mono_ns() - s->freeze_start_ns;
	close(fd);
	fd = -1;
	if (ns_child < 0 && ns_child > -4096 && !err[0]) {
		snprintf(s->fallback, sizeof(s->fallback), "clone in the target failed: %s", strerror((int)-ns_child));
		return 1;
	}
	if (ns_child <= 0)
		return (int)(ns_child < 0 ? ns_child : -EIO);
	pid_t child = child_pid(s->pid, ns_child);
	if (child <= 0)
		return util_err(err, errlen, -ESRCH, "cannot find the snapshot child (pid %ld in the target's namespace)",
				ns_child);
	rc = hold_child(s, child, &h, err, errlen);
	if (rc < 0)
		return rc;
	s->method = CORE_FORK;
	s->src = child;
	return 0;
fail:
	detach_all(s);
	if (fd >= 0)
		close(fd);
	return rc < 0 ? rc : -EIO;
}

static void free_threads(struct core_snap *s)
{
	for (size_t i = 0; i < s->nthreads; i++)
		free(s->threads[i].xstate);
	free(s->threads);
	s->threads = NULL;
	s->nthreads = 0;
}

int core_snap_take(pid_t pid, const struct core_snap_opts *o, struct core_snap *s, char *err, size_t errlen)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	if (o->allow_fork) {
		rc = try_fork(s, o, err, errlen);
		if (rc <= 0)
			return rc;
		/* Fell back: take the snapshot again by stopping everything. */
		free_threads(s);
		s->freeze_start_ns = 0;
		s->patch.len = 0;
	}
	rc = seize_all(s);
	if (rc < 0) {
		detach_all(s);
		return util_err(err, errlen, rc, "ptrace(PTRACE_SEIZE, %d): %s", (int)pid, strerror(-rc));
	}
	rc = stop_and_read(s, err, errlen);
	if (rc < 0) {
		detach_all(s);
		return rc;
	}
	s->method = CORE_STOP;
	s->src = pid;
	return 0;
}

void core_snap_release(struct core_snap *s)
{
	if (s->child > 0) {
		int st;
		kill(s->child, SIGKILL);
		while (waitpid(s->child, &st, __WALL) < 0 && errno == EINTR)
			;
		s->child = 0;
	}
	if (s->method == CORE_STOP && s->nthreads) {
		detach_all(s);
		s->freeze_ns = util_mono_ns() - s->freeze_start_ns;
	}
	free_threads(s);
}
