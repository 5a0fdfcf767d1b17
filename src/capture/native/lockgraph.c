/* lockgraph: who waits for which pthread mutex and who holds it, read from outside. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getdents64 */
#endif
#include "capture/native/lockgraph.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/procfs.h"
#include "lib/util.h"

#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

/* The value glibc's __lll_lock_wait stores and waits on: locked, with waiters. */
#define LLL_CONTENDED 2
/* Every bit a glibc 2.x mutex kind may carry (type, robust, PI, PP, pshared, elision). */
#define MUTEX_KIND_BITS 0x3f3u

static int hexword(const char **p, const char *end, uint64_t *out)
{
	char tmp[24];
	size_t n = 0;
	const char *s = *p;

	while (s < end && *s == ' ')
		s++;
	while (s < end && *s != ' ' && *s != '\n' && n + 1 < sizeof(tmp))
		tmp[n++] = *s++;
	if (n == 0)
		return -EINVAL;
	tmp[n] = '\0';
	char *e;
	errno = 0;
	*out = strtoull(tmp, &e, 0);
	if (errno || *e)
		return -EINVAL;
	*p = s;
	return 0;
}

int lockgraph_parse_syscall(const char *buf, size_t len, long futex_nr, struct lock_syscall *out)
{
	const char *p = buf, *end = buf + len;
	uint64_t v[7];

	memset(out, 0, sizeof(*out));
	if (len >= 7 && memcmp(buf, "running", 7) == 0)
		return 0;
	if (len >= 2 && buf[0] == '-')
		return 0; /* blocked outside a system call (page fault, stopped) */
	/* nr and six arguments; fewer after a valid nr is a call hound does not read. */
	for (int i = 0; i < 7; i++)
		if (hexword(&p, end, &v[i]) < 0)
			return i < 2 ? -EINVAL : 0;
	if ((long)v[0] != futex_nr)
		return 0;
	unsigned op = (unsigned)v[2] & ~(unsigned)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
	uint32_t val = (uint32_t)v[3];
	out->addr = v[1];
	switch (op) {
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
		out->call = LOCK_CALL_PI;
		break;
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		/*
		 * Condition variables and semaphores wait on a sequence or count
		 * value; a contended mutex on 2; a robust mutex on the owner's TID
		 * with FUTEX_WAITERS set.
		 */
		if (val == LLL_CONTENDED) {
			out->call = LOCK_CALL_MUTEX;
		} else if ((val & FUTEX_WAITERS) && (val & FUTEX_TID_MASK)) {
			out->call = LOCK_CALL_ROBUST;
			out->owner = (pid_t)(val & FUTEX_TID_MASK);
		}
		break;
	default:
		break;
	}
	return 0;
}

static uint32_t rd32(const unsigned char *m)
{
	uint32_t v;
	memcpy(&v, m, sizeof(v));
	return v;
}

pid_t lockgraph_mutex_owner(const unsigned char *m, size_t len)
{
	if (len < 20)
		return 0;
	uint32_t lock = rd32(m), owner = rd32(m + 8), kind = rd32(m + 16);
	if (lock == 0 || (kind & ~MUTEX_KIND_BITS))
		return 0;
	/* Robust and PI mutexes keep the owner in the lock word. */
	if (kind & 0x30u)
		return (pid_t)(lock & FUTEX_TID_MASK);
	return owner > FUTEX_TID_MASK ? 0 : (pid_t)owner;
}

static int find_waiter(const struct lock_waiter *w, size_t n, pid_t tid)
{
	/* w is sorted by tid while cycles are searched. */
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (w[mid].tid == tid)
			return (int)mid;
		if (w[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int by_tid(const void *a, const void *b)
{
	const struct lock_waiter *x = a, *y = b;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

static int cycles_first(const void *a, const void *b)
{
	const struct lock_waiter *x = a, *y = b;
	if ((x->cycle == 0) != (y->cycle == 0))
		return x->cycle == 0 ? 1 : -1;
	if (x->cycle != y->cycle)
		return x->cycle - y->cycle;
	return by_tid(a, b);
}

size_t lockgraph_find_cycles(struct lock_waiter *w, size_t n)
{
	size_t in_cycle = 0;
	int next_id = 1;

	if (n > 1)
		qsort(w, n, sizeof(*w), by_tid);
	for (size_t i = 0; i < n; i++)
		w[i].cycle = 0;
	/*
	 * Walk from each unvisited waiter along waiter -> owner; the walk
	 * stamps nodes with -(start+1). Meeting a node stamped by this same
	 * walk closes a cycle; meeting an older stamp or a non-waiter ends it.
	 */
	for (size_t s = 0; s < n; s++) {
		if (w[s].cycle != 0)
			continue;
		int stamp = -(int)(s + 1), k = (int)s;
		while (k >= 0 && w[k].cycle == 0) {
			w[k].cycle = stamp;
			k = find_waiter(w, n, w[k].owner);
		}
		if (k >= 0 && w[k].cycle == stamp) {
			int id = next_id++, c = k;
			do {
				w[c].cycle = id;
				in_cycle++;
				c = find_waiter(w, n, w[c].owner);
			} while (c != k);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (w[i].cycle < 0)
			w[i].cycle = 0;
	if (n > 1)
		qsort(w, n, sizeof(*w), cycles_first);
	return in_cycle;
}

/* ---- the live view ---------------------------------------------------------------- */

struct lockgraph {
	pid_t pid;
	int taskfd, memfd;
	pid_t *tids;
	size_t ntids, cap_tids;
	struct lock_waiter *w, *prev;
	size_t n, nprev, cap_w;
	size_t deadlocked;
	char dents[4096]; /* getdents64 loops: one buffer per watched process stays small */
};

int lockgraph_open(pid_t pid, lockgraph **out)
{
	char path[64];
	lockgraph *g = xcalloc(1, sizeof(*g));

	g->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	g->taskfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g->taskfd < 0) {
		int e = errno;
		free(g);
		return e == ENOENT ? -ESRCH : -e;
	}
	/* Opened at the first scan: without ptrace access it fails there, with a message. */
	g->memfd = -1;
	*out = g;
	return 0;
}

void lockgraph_free(lockgraph *g)
{
	if (!g)
		return;
	close(g->taskfd);
	if (g->memfd >= 0)
		close(g->memfd);
	free(g->tids);
	free(g->w);
	free(g->prev);
	free(g);
}

static int list_tids(lockgraph *g)
{
	g->ntids = 0;
	if (lseek(g->taskfd, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		long nb = syscall(SYS_getdents64, g->taskfd, g->dents, sizeof(g->dents));
		if (nb < 0)
			return errno == ENOENT ? -ESRCH : -errno;
		if (nb == 0)
			break;
		for (long off = 0; off < nb;) {
			struct dirent64 *d = (struct dirent64 *)(void *)(g->dents + off);
			off += d->d_reclen;
			if (d->d_name[0] < '1' || d->d_name[0] > '9')
				continue;
			if (g->ntids == g->cap_tids) {
				g->cap_tids = g->cap_tids ? g->cap_tids * 2 : 64;
				g->tids = xrealloc(g->tids, g->cap_tids * sizeof(*g->tids));
			}
			g->tids[g->ntids++] = (pid_t)atoi(d->d_name);
		}
	}
	return g->ntids ? 0 : -ESRCH;
}

/* Reads TID/name into buf; returns bytes, 0 when the thread is gone, or -errno. */
static ssize_t read_task(lockgraph *g, pid_t tid, const char *name, char *buf, size_t len)
{
	char path[48];
	snprintf(path, sizeof(path), "%d/%s", (int)tid, name);
	int fd = openat(g->taskfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -errno;
	ssize_t n = read(fd, buf, len - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return e == ESRCH ? 0 : -e;
	buf[n] = '\0';
	return n;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

static bool is_thread(const lockgraph *g, pid_t tid)
{
	return g->ntids && bsearch(&tid, g->tids, g->ntids, sizeof(pid_t), cmp_pid) != NULL;
}

static pid_t owner_of(lockgraph *g, const struct lock_syscall *sc)
{
	unsigned char m[20];

	if (sc->call == LOCK_CALL_ROBUST)
		return sc->owner;
	if (g->memfd < 0)
		return 0;
	if (pread(g->memfd, m, sizeof(m), (off_t)sc->addr) != (ssize_t)sizeof(m))
		return 0;
	if (sc->call == LOCK_CALL_PI) {
		uint32_t t = rd32(m) & FUTEX_TID_MASK;
		return (pid_t)t;
	}
	return lockgraph_mutex_owner(m, sizeof(m));
}

static void add_waiter(lockgraph *g, pid_t tid, pid_t owner, uint64_t addr, int64_t now)
{
	char buf[128];
	struct procfs_schedstat ss = {0};
	ssize_t n = read_task(g, tid, "schedstat", buf, sizeof(buf));

	if (n > 0)
		procfs_parse_schedstat(buf, (size_t)n, &ss);
	if (g->n == g->cap_w) {
		g->cap_w = g->cap_w ? g->cap_w * 2 : 16;
		g->w = xrealloc(g->w, g->cap_w * sizeof(*g->w));
		g->prev = xrealloc(g->prev, g->cap_w * sizeof(*g->prev));
	}
	struct lock_waiter *w = &g->w[g->n++];
	*w = (struct lock_waiter){.tid = tid, .owner = owner, .addr = addr, .since_ms = now,
				  .run_ns = ss.run_ns, .slices = ss.slices};
	/* The same wait as last scan, and the thread has not run since: it goes on. */
	int k = find_waiter(g->prev, g->nprev, tid);
	if (k >= 0 && g->prev[k].addr == addr && g->prev[k].run_ns == w->run_ns &&
	    g->prev[k].slices == w->slices)
		w->since_ms = g->prev[k].since_ms;
}

int lockgraph_scan(lockgraph *g, int64_t mono_ms, char *err, size_t errlen)
{
	char buf[256];
	int r = list_tids(g);

	if (r < 0)
		return util_err(err, errlen, r, "reading /proc/%d/task: %s", (int)g->pid,
				strerror(-r));
	if (g->ntids > 1)
		qsort(g->tids, g->ntids, sizeof(pid_t), cmp_pid);
	/* Keep last scan's waiters for since_ms; swap the arrays, allocate nothing. */
	struct lock_waiter *t = g->prev;
	g->prev = g->w;
	g->w = t;
	g->nprev = g->n;
	g->n = 0;
	if (g->nprev > 1) /* for find_waiter; qsort wants no NULL even for 0 items */
		qsort(g->prev, g->nprev, sizeof(*g->prev), by_tid);
	g->deadlocked = 0;
	for (size_t i = 0; i < g->ntids; i++) {
		struct lock_syscall sc;
		ssize_t n = read_task(g, g->tids[i], "syscall", buf, sizeof(buf));
		if (n < 0)
			return util_err(err, errlen, (int)n,
					"reading /proc/%d/task/%d/syscall: %s (needs ptrace access)",
					(int)g->pid, (int)g->tids[i], strerror((int)-n));
		if (n == 0 || lockgraph_parse_syscall(buf, (size_t)n, SYS_futex, &sc) < 0 ||
		    sc.call == LOCK_CALL_NONE)
			continue;
		if (g->memfd < 0 && sc.call != LOCK_CALL_ROBUST) {
			char path[48];
			snprintf(path, sizeof(path), "/proc/%d/mem", (int)g->pid);
			g->memfd = open(path, O_RDONLY | O_CLOEXEC);
			if (g->memfd < 0) {
				int e = errno;
				return util_err(err, errlen, -e, "opening %s: %s", path, strerror(e));
			}
		}
		pid_t owner = owner_of(g, &sc);
		/* A robust mutex's waiter names its owner; a dead one is the kernel's to recover. */
		if (owner <= 0 || (sc.call == LOCK_CALL_ROBUST && !is_thread(g, owner)))
			continue;
		add_waiter(g, g->tids[i], owner, sc.addr, mono_ms);
	}
	for (size_t i = 0; i < g->n; i++)
		g->w[i].owner_alive = is_thread(g, g->w[i].owner);
	g->deadlocked = lockgraph_find_cycles(g->w, g->n);
	return 0;
}

const struct lock_waiter *lockgraph_waiters(const lockgraph *g, size_t *n)
{
	*n = g->n;
	return g->w;
}

size_t lockgraph_deadlocked(const lockgraph *g)
{
	return g->deadlocked;
}

int64_t lockgraph_longest_wait_ms(const lockgraph *g, int64_t mono_ms)
{
	int64_t best = 0;
	for (size_t i = 0; i < g->n; i++)
		if (mono_ms - g->w[i].since_ms > best)
			best = mono_ms - g->w[i].since_ms;
	return best;
}

size_t lockgraph_nthreads(const lockgraph *g)
{
	return g->ntids;
}
