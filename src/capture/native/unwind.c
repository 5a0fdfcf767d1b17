/* unwind: stop each thread of a process for a moment with ptrace and record its raw call chain. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "capture/native/unwind.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libunwind-ptrace.h>

#include "capture/native/ehframe.h"
#include "capture/native/sigmask.h"
#include "capture/native/vdso.h"
#include "capture/native/privhint.h"
#include "lib/util.h"

/* How long one thread may take to reach its ptrace-stop (a thread in D state). */
#define STOP_DEADLINE_NS (250 * 1000 * 1000LL)

struct unwind_session {
	pid_t pid;
	unw_addr_space_t as;
};

/*
 * Target memory as libunwind reads it: PTRACE_PEEKDATA costs a system call per
 * word, so reads go through a small page cache filled with process_vm_readv
 * (one call per 4 KiB). It lives on the ptrace thread and is emptied before
 * each thread, so a stack is only ever read while its thread is stopped.
 */
#define MC_SLOTS 64
#define MC_PAGE	 4096
struct memcache {
	pid_t pid;
	uint64_t vdso_start, vdso_end; /* the target's [vdso], 0 when none */
	pid_t tid;		       /* the stopped thread being walked */
	bool regs_valid;	       /* regs holds tid's registers */
	struct user_regs_struct regs;
	uint64_t tag[MC_SLOTS];
	bool valid[MC_SLOTS];
	uint8_t data[MC_SLOTS][MC_PAGE];
};
static __thread struct memcache *tl_cache;

static int access_mem_cached(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
			     void *arg)
{
	struct memcache *c = tl_cache;
	uint64_t page = addr & ~(uint64_t)(MC_PAGE - 1), off = addr - page;
	size_t slot = (size_t)(page / MC_PAGE) % MC_SLOTS;

	if (write || !c || off > MC_PAGE - sizeof(*val))
		return _UPT_access_mem(as, addr, val, write, arg);
	if (!c->valid[slot] || c->tag[slot] != page) {
		struct iovec local = {c->data[slot], MC_PAGE};
		struct iovec remote = {(void *)(uintptr_t)page, MC_PAGE};
		if (process_vm_readv(c->pid, &local, 1, &remote, 1, 0) != MC_PAGE) {
			c->valid[slot] = false;
			return _UPT_access_mem(as, addr, val, write, arg);
		}
		c->tag[slot] = page;
		c->valid[slot] = true;
	}
	memcpy(val, c->data[slot] + off, sizeof(*val));
	return 0;
}

/* user_regs_struct offsets of libunwind's x86-64 register numbers 0..16. */
static const size_t reg_offset[] = {
    offsetof(struct user_regs_struct, rax), offsetof(struct user_regs_struct, rdx),
    offsetof(struct user_regs_struct, rcx), offsetof(struct user_regs_struct, rbx),
    offsetof(struct user_regs_struct, rsi), offsetof(struct user_regs_struct, rdi),
    offsetof(struct user_regs_struct, rbp), offsetof(struct user_regs_struct, rsp),
    offsetof(struct user_regs_struct, r8),  offsetof(struct user_regs_struct, r9),
    offsetof(struct user_regs_struct, r10), offsetof(struct user_regs_struct, r11),
    offsetof(struct user_regs_struct, r12), offsetof(struct user_regs_struct, r13),
    offsetof(struct user_regs_struct, r14), offsetof(struct user_regs_struct, r15),
    offsetof(struct user_regs_struct, rip),
};

/*
 * libunwind-ptrace reads each register with its own PTRACE_GETREGSET (two or
 * more per thread); one PTRACE_GETREGS per stopped thread serves them all.
 * Writes and other registers keep libunwind's own path.
 */
static int access_reg_cached(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
			     void *arg)
{
	struct memcache *c = tl_cache;

	if (write || !c || reg < 0 || (size_t)reg >= ARRAY_LEN(reg_offset)) {
		if (c && write)
			c->regs_valid = false;
		return _UPT_access_reg(as, reg, val, write, arg);
	}
	if (!c->regs_valid) {
		if (ptrace(PTRACE_GETREGS, c->tid, 0, &c->regs) < 0)
			return _UPT_access_reg(as, reg, val, write, arg);
		c->regs_valid = true;
	}
	memcpy(val, (const char *)&c->regs + reg_offset[reg], sizeof(*val));
	return 0;
}

/* Exported by libunwind-generic but not declared in its headers (perf uses it too). */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

/*
 * libunwind-ptrace finds unwind tables by opening the file behind a mapping,
 * and [vdso] has none: it then guesses a frame-pointer frame and, in code
 * built without frame pointers, walks into garbage (a hot clock_gettime
 * showed its caller as a data symbol). For the vDSO the table comes from
 * hound's identical copy; the bytes are still read from the target.
 */
static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	const struct memcache *c = tl_cache;
	const struct vdso_image *v;
	struct eh_table t;

	if (!c || ip < c->vdso_start || ip >= c->vdso_end || !(v = vdso_self()) ||
	    !ehframe_table(v->data, v->size, &t))
		return _UPT_find_proc_info(as, ip, pi, need_unwind_info, arg);
	uint64_t bias = c->vdso_start - v->load_vaddr;
	unw_dyn_info_t di;
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = c->vdso_start;
	di.end_ip = c->vdso_end;
	di.u.rti.segbase = bias + t.hdr_vaddr;
	di.u.rti.table_data = bias + t.table_vaddr;
	di.u.rti.table_len = t.fde_count * 8 / sizeof(unw_word_t);
	return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
}

/* The work handed to the ptrace thread. */
struct pass {
	unwind_session *s;
	struct unwind_result *res;
	size_t nframes_used;
};

unwind_session *unwind_session_new(pid_t pid)
{
	unwind_session *s = xcalloc(1, sizeof(*s));
	s->pid = pid;
	unw_accessors_t acc = _UPT_accessors;

	acc.access_mem = access_mem_cached;
	acc.access_reg = access_reg_cached;
	acc.find_proc_info = find_proc_info;
	s->as = unw_create_addr_space(&acc, 0);
	/*
	 * The global cache outlives the short-lived ptrace thread of each
	 * capture (a per-thread cache would not); its lock's signal-mask calls
	 * are kept out of the kernel by sigmask_block_all on that thread.
	 */
	if (s->as)
		unw_set_caching_policy(s->as, UNW_CACHE_GLOBAL);
	return s;
}

void unwind_session_free(unwind_session *s)
{
	if (!s)
		return;
	if (s->as)
		unw_destroy_addr_space(s->as);
	free(s);
}

void unwind_result_init(struct unwind_result *res)
{
	memset(res, 0, sizeof(*res));
}

void unwind_result_fini(struct unwind_result *res)
{
	free(res->threads);
	free(res->ip_pool);
	free(res->ra_pool);
	memset(res, 0, sizeof(*res));
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/* Lists /proc/PID/task into a malloc'd array; returns the count or -errno. */
static ssize_t list_tasks(pid_t pid, pid_t **out)
{
	char path[64];
	size_t n = 0, cap = 64;
	pid_t *v;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	v = xmalloc(cap * sizeof(*v));
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (n == cap)
			v = xrealloc(v, (cap *= 2) * sizeof(*v));
		v[n++] = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	*out = v;
	return (ssize_t)n;
}

static void read_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n < 0)
		n = 0;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
}

/* The tracer of pid from /proc/PID/status, 0 when none or unknown. */
static pid_t tracer_of(pid_t pid)
{
	char path[64], *buf = NULL, *p;
	size_t len;
	pid_t t = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (util_read_file(path, &buf, &len, 1 << 16) < 0)
		return 0;
	p = strstr(buf, "\nTracerPid:");
	if (p)
		t = (pid_t)atoi(p + 11);
	free(buf);
	return t;
}

static int64_t now_ns(void)
{
	return util_mono_ns();
}

/*
 * Waits for tid's ptrace-stop without blocking forever: a thread that sits in
 * uninterruptible sleep may take long to stop. Returns 0 with *status, or
 * -errno, or -ETIMEDOUT.
 */
static int wait_stop(pid_t tid, int *status)
{
	int64_t start = now_ns();
	long spins = 0;

	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);
		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ns() - start > STOP_DEADLINE_NS)
			return -ETIMEDOUT;
		if (++spins < 64) {
			sched_yield();
		} else {
			struct timespec ts = {0, 50 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

static void set_err(struct unwind_thread *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(struct unwind_thread *t, int err, const char *fmt, ...)
{
	va_list ap;
	t->err = err;
	va_start(ap, fmt);
	vsnprintf(t->errmsg, sizeof(t->errmsg), fmt, ap);
	va_end(ap);
}

/* Walks the stopped thread; frames go to ips/ra. Returns the frame count. */
static size_t walk(unw_addr_space_t as, void *upt, uint64_t *ips, uint8_t *ra, bool *truncated)
{
	unw_cursor_t c;
	size_t n = 0;
	bool next_is_return = false;

	*truncated = false;
	if (unw_init_remote(&c, as, upt) < 0)
		return 0;
	for (;;) {
		unw_word_t ip = 0;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		if (n == UNWIND_MAX_FRAMES) {
			*truncated = true;
			break;
		}
		ips[n] = ip;
		ra[n] = next_is_return;
		n++;
		/* The frame interrupted by a signal holds the faulting pc, not a return address. */
		next_is_return = unw_is_signal_frame(&c) <= 0;
		if (unw_step(&c) <= 0)
			break;
	}
	return n;
}

/*
 * A tracee that cannot be detached with ESRCH is exiting (an exec in another
 * thread kills every other thread). Until its tracer reaps it, the exec
 * waits for it, holding the lock the next PTRACE_SEIZE of this process
 * sleeps on: reap it here (bounded), or hound and the target wait for each
 * other forever.
 */
static void reap_exiting(pid_t tid)
{
	int64_t start = now_ns();
	int status;

	for (;;) {
		pid_t r = waitpid(tid, &status, __WALL | WNOHANG);
		if (r == tid || (r < 0 && errno != EINTR))
			return;
		if (now_ns() - start > STOP_DEADLINE_NS)
			return;
		struct timespec ts = {0, 200 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* Stops, unwinds and releases one thread; records the outcome in t. */
static void unwind_one(struct pass *p, struct unwind_thread *t, uint64_t *ips, uint8_t *ra)
{
	pid_t tid = t->tid;
	int status = 0, sig = 0, rc;
	int64_t t0, t1;
	void *upt;

	pid_t live = tid == p->res->pid ? util_proc_live_tid(tid) : tid;
	if (live > 0 && live != tid) {
		/* a zombie leader cannot be traced; its process lives on in the others */
		set_err(t, -ESRCH,
			"thread %d, the main thread, has exited (pthread_exit); the process runs "
			"on its other threads",
			(int)tid);
		return;
	}
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
		int e = errno;
		if (e == ESRCH)
			set_err(t, -ESRCH, "thread %d exited during the capture", (int)tid);
		else
			set_err(t, -e, "ptrace(PTRACE_SEIZE, %d): %s", (int)tid, strerror(e));
		return;
	}
	upt = _UPT_create(tid);
	if (tl_cache) {
		memset(tl_cache->valid, 0, sizeof(tl_cache->valid));
		tl_cache->tid = tid;
		tl_cache->regs_valid = false;
	}
	t0 = now_ns();
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		int e = errno;
		set_err(t, -e, "ptrace(PTRACE_INTERRUPT, %d): %s", (int)tid, strerror(e));
		goto release;
	}
	rc = wait_stop(tid, &status);
	if (rc == -ETIMEDOUT) {
		set_err(t, rc, "thread %d did not stop within %lld ms (uninterruptible sleep?)",
			(int)tid, STOP_DEADLINE_NS / 1000000);
		goto release;
	}
	if (rc < 0) {
		set_err(t, rc, "waitpid(%d): %s", (int)tid, strerror(-rc));
		goto release;
	}
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		set_err(t, -ESRCH, "thread %d exited during the capture", (int)tid);
		_UPT_destroy(upt);
		return;
	}
	/* A signal-delivery-stop (not our interrupt): hand the signal back on detach. */
	if (WIFSTOPPED(status) && (status >> 16) == 0)
		sig = WSTOPSIG(status);
	t->nframes = walk(p->s->as, upt, ips, ra, &t->truncated);
	if (ptrace(PTRACE_DETACH, tid, 0, (void *)(long)sig) < 0) {
		int e = errno;
		if (e == ESRCH)
			reap_exiting(tid);
		else
			set_err(t, -e, "ptrace(PTRACE_DETACH, %d): %s", (int)tid, strerror(e));
	}
	t1 = now_ns();
	t->stop_ns = t1 - t0;
	if (t->nframes == 0 && t->err == 0)
		set_err(t, -EIO, "thread %d: no frame could be unwound", (int)tid);
	_UPT_destroy(upt);
	return;
release:
	/* Not stopped: detaching fails, the ptrace thread's exit releases it;
	 * unless it is exiting, then it is reaped now (see reap_exiting). */
	if (ptrace(PTRACE_DETACH, tid, 0, 0) < 0 && errno == ESRCH)
		reap_exiting(tid);
	_UPT_destroy(upt);
}

static void ensure_threads(struct unwind_result *res, size_t n)
{
	if (n <= res->cap_threads)
		return;
	res->cap_threads = n + n / 2 + 8;
	res->threads = xrealloc(res->threads, res->cap_threads * sizeof(*res->threads));
}

static void ensure_frames(struct unwind_result *res, size_t n)
{
	if (n <= res->cap_frames)
		return;
	res->cap_frames = n + n / 2 + UNWIND_MAX_FRAMES;
	res->ip_pool = xrealloc(res->ip_pool, res->cap_frames * sizeof(*res->ip_pool));
	res->ra_pool = xrealloc(res->ra_pool, res->cap_frames);
}

/* Unwinds tids[0..n) that are not yet in the result. */
static void run_tids(struct pass *p, const pid_t *tids, size_t n)
{
	struct unwind_result *res = p->res;
	uint64_t ips[UNWIND_MAX_FRAMES];
	uint8_t ra[UNWIND_MAX_FRAMES];

	ensure_threads(res, res->nthreads + n);
	for (size_t i = 0; i < n; i++) {
		struct unwind_thread *t = &res->threads[res->nthreads++];
		memset(t, 0, sizeof(*t));
		t->tid = tids[i];
		read_comm(res->pid, t->tid, t->name, sizeof(t->name));
		unwind_one(p, t, ips, ra);
		if (t->err == 0)
			res->nok++;
		if (t->nframes) {
			ensure_frames(res, p->nframes_used + t->nframes);
			memcpy(res->ip_pool + p->nframes_used, ips, t->nframes * sizeof(*ips));
			memcpy(res->ra_pool + p->nframes_used, ra, t->nframes);
		}
		/* Offsets for now; turned into pointers once the pools stop moving. */
		t->ips = (const uint64_t *)(uintptr_t)p->nframes_used;
		p->nframes_used += t->nframes;
	}
}

static void *pass_main(void *arg)
{
	struct pass *p = arg;
	struct unwind_result *res = p->res;
	pid_t *tids = NULL, *again = NULL, *fresh;
	ssize_t n, m;
	size_t nfresh = 0;

	n = list_tasks(res->pid, &tids);
	if (n < 0)
		return (void *)(intptr_t)n;
	/*
	 * Signals go to the caller's threads, not this one; blocking them all
	 * here also lets libunwind's per-frame mask changes skip the kernel.
	 */
	sigmask_block_all();
	tl_cache = xcalloc(1, sizeof(*tl_cache));
	tl_cache->pid = res->pid;
	vdso_find(res->pid, &tl_cache->vdso_start, &tl_cache->vdso_end);
	run_tids(p, tids, (size_t)n);
	/* Threads born during the pass get one more chance. */
	m = list_tasks(res->pid, &again);
	if (m > 0) {
		qsort(tids, (size_t)n, sizeof(*tids), cmp_pid);
		fresh = xmalloc((size_t)m * sizeof(*fresh));
		for (ssize_t i = 0; i < m; i++)
			if (!bsearch(&again[i], tids, (size_t)n, sizeof(*tids), cmp_pid))
				fresh[nfresh++] = again[i];
		run_tids(p, fresh, nfresh);
		free(fresh);
	}
	free(again);
	free(tids);
	free(tl_cache);
	tl_cache = NULL;
	sigmask_forget();
	return NULL;
}

/* Turns the whole-capture outcome into one error, or 0 when some thread was unwound. */
static int summarize(const struct unwind_result *res, char *err, size_t errlen)
{
	const struct unwind_thread *first = NULL;
	char path[64];
	size_t exited = 0;

	snprintf(path, sizeof(path), "/proc/%d", (int)res->pid);
	if (res->nok > 0) {
		if (res->nok == res->nthreads || access(path, F_OK) == 0)
			return 0;
		snprintf(err, errlen,
			 "process %d exited during the capture (%zu of %zu threads unwound)",
			 (int)res->pid, res->nok, res->nthreads);
		return -ESRCH;
	}
	for (size_t i = 0; i < res->nthreads; i++) {
		const struct unwind_thread *t = &res->threads[i];
		if (t->err == -ESRCH)
			exited++;
		else if (!first)
			first = t;
	}
	if (!first || access(path, F_OK) < 0) {
		snprintf(err, errlen, "process %d exited during the capture", (int)res->pid);
		return -ESRCH;
	}
	if (first->err == -EPERM) {
		pid_t tracer = tracer_of(res->pid);
		if (tracer > 0)
			snprintf(
			    err, errlen,
			    "ptrace(PTRACE_SEIZE, %d): Operation not permitted: already traced "
			    "by PID %d (a debugger?)",
			    (int)res->pid, (int)tracer);
		else {
			char hint[320];
			privhint_explain(res->pid, PRIVHINT_PTRACE, NULL, hint, sizeof(hint));
			snprintf(err, errlen, "ptrace(PTRACE_SEIZE, %d): Operation not permitted: %s",
				 (int)res->pid, hint);
		}
		return -EPERM;
	}
	snprintf(err, errlen, "process %d: %s", (int)res->pid, first->errmsg);
	return first->err;
}

int unwind_session_capture(unwind_session *s, struct unwind_result *res, char *err, size_t errlen)
{
	struct pass p = {.s = s, .res = res};
	pthread_t th;
	void *ret = NULL;
	int64_t t0 = now_ns();
	int rc;

	res->pid = s->pid;
	res->nthreads = 0;
	res->nok = 0;
	if (!s->as) {
		snprintf(err, errlen, "libunwind: cannot create an address space for process %d",
			 (int)s->pid);
		return -ENOMEM;
	}
	/*
	 * Every ptrace-stop sends SIGCHLD to hound; unblocked here, each one
	 * would wake this waiting thread for nothing (one wake-up per target
	 * thread). Held pending instead, they collapse into one.
	 */
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	rc = pthread_create(&th, NULL, pass_main, &p);
	if (rc == 0)
		pthread_join(th, &ret);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		return -rc;
	}
	res->wall_ns = now_ns() - t0;
	if ((intptr_t)ret < 0) {
		rc = (int)(intptr_t)ret;
		if (rc == -ENOENT)
			rc = -ESRCH;
		snprintf(err, errlen, "opendir(/proc/%d/task): %s", (int)s->pid,
			 rc == -ESRCH ? "no such process" : strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < res->nthreads; i++) {
		struct unwind_thread *t = &res->threads[i];
		size_t off = (size_t)(uintptr_t)t->ips;
		t->ips = res->ip_pool ? res->ip_pool + off : NULL;
		t->is_return = res->ra_pool ? res->ra_pool + off : NULL;
	}
	return summarize(res, err, errlen);
}

int unwind_capture(pid_t pid, struct unwind_result *res, char *err, size_t errlen)
{
	unwind_session *s = unwind_session_new(pid);
	int rc = unwind_session_capture(s, res, err, errlen);
	unwind_session_free(s);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int64_t unwind_median_stop_ns(const struct unwind_result *res)
{
	int64_t *v = xmalloc((res->nthreads + 1) * sizeof(*v)), m = 0;
	size_t n = 0;

	for (size_t i = 0; i < res->nthreads; i++)
		if (res->threads[i].stop_ns > 0)
			v[n++] = res->threads[i].stop_ns;
	if (n) {
		qsort(v, n, sizeof(*v), cmp_i64);
		m = v[n / 2];
	}
	free(v);
	return m;
}
