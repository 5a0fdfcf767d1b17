/* perf_sampler: per-thread perf_event_open sampling of one process, with call chains. */
#include "capture/native/perf_sampler.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "capture/native/perf_ring.h"
#include "capture/native/perf_unwind.h"
#include "capture/native/privhint.h"
#include "lib/util.h"

#define SAMPLE_TYPE                                                                                \
	(PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_PERIOD |                \
	 PERF_SAMPLE_CALLCHAIN | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER)
#define RESCAN_MS 100
#define POLL_MS	  50

struct pthread_ev {
	pid_t tid;
	int fd;
	uint8_t *base; /* metadata page + data */
	size_t map_len, data_len;
	char name[16];
	bool named; /* comm re-read once the thread has run (after pthread_setname_np) */
	bool done;  /* thread exited, ring drained and unmapped */
};

struct perf_sampler {
	pid_t pid;
	bool leader_gone; /* the main thread exited: sample the others only */
	struct perf_sampler_opts o;
	struct perf_event_attr attr;
	struct pthread_ev *th;
	size_t nth, cap;
	struct pollfd *pfd;
	perf_unwinder *uw;
	uint8_t *scratch; /* a wrapped record, 8-byte aligned */
	uint64_t fp[PERF_MAX_FRAMES], dw[PERF_MAX_FRAMES];
	struct perf_sampler_stats st;
	int64_t last_scan_ms;
	/* the callback while draining */
	perf_stack_fn fn;
	void *arg;
	const char *cur_name;
};

static const char *const method_names[PERF_METHOD_COUNT] = {"fp", "dwarf", "fp-deep", "partial"};

const char *perf_method_name(enum perf_method m)
{
	return m < PERF_METHOD_COUNT ? method_names[m] : "?";
}

static int open_event(struct perf_event_attr *a, pid_t tid)
{
	long fd = syscall(SYS_perf_event_open, a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

static void read_comm(pid_t pid, pid_t tid, char *name)
{
	char path[64], buf[32];
	int fd;
	ssize_t n;

	name[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	buf[15] = 0;
	memcpy(name, buf, 16);
}

/* Opens and maps the event of one thread; -errno on failure. */
static int thread_add(perf_sampler *s, pid_t tid)
{
	struct pthread_ev *t;
	size_t pages = s->o.ring_pages;
	long psz = sysconf(_SC_PAGESIZE);
	int fd = open_event(&s->attr, tid);
	void *m = MAP_FAILED;

	if (fd < 0)
		return fd;
	/* a smaller ring when locked memory is short (perf_event_mlock_kb) */
	for (; pages >= 2; pages /= 2) {
		m = mmap(NULL, (pages + 1) * (size_t)psz, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 0);
		if (m != MAP_FAILED || errno != EPERM)
			break;
	}
	if (m == MAP_FAILED) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (s->nth == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->th = xrealloc(s->th, s->cap * sizeof(*s->th));
		s->pfd = xrealloc(s->pfd, s->cap * sizeof(*s->pfd));
	}
	t = &s->th[s->nth++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->fd = fd;
	t->base = m;
	t->map_len = (pages + 1) * (size_t)psz;
	t->data_len = pages * (size_t)psz;
	read_comm(s->pid, tid, t->name);
	s->st.threads_seen++;
	return 0;
}

static bool thread_known(const perf_sampler *s, pid_t tid)
{
	for (size_t i = 0; i < s->nth; i++)
		if (s->th[i].tid == tid)
			return true;
	return false;
}

/* Adds threads born since the last scan; -ESRCH when the process is gone. */
static int rescan(perf_sampler *s)
{
	char path[64];
	DIR *d;
	struct dirent *de;

	s->last_scan_ms = util_mono_ms();
	snprintf(path, sizeof(path), "/proc/%d/task", (int)s->pid);
	d = opendir(path);
	if (!d)
		return -ESRCH;
	while ((de = readdir(d)) != NULL) {
		pid_t tid = (pid_t)atoi(de->d_name);
		if (tid <= 0 || thread_known(s, tid) || (tid == s->pid && s->leader_gone))
			continue;
		if (thread_add(s, tid) < 0)
			s->st.threads_failed++; /* usually a thread that just exited */
	}
	closedir(d);
	return 0;
}

static size_t user_chain(const struct perf_sample_rec *r, uint64_t *out, size_t max)
{
	size_t n = 0;
	bool user = false;

	for (uint64_t i = 0; i < r->nr_callchain && n < max; i++) {
		uint64_t v = r->callchain[i];
		if (v >= (uint64_t)PERF_CONTEXT_MAX) {
			user = v == (uint64_t)PERF_CONTEXT_USER;
			continue;
		}
		if (user)
			out[n++] = v;
	}
	return n;
}

/* Picks the chain for one sample: the kernel FP chain when DWARF agrees it is whole. */
static void deliver(perf_sampler *s, const struct perf_sample_rec *r)
{
	struct perf_stack ps = {0};
	size_t nfp = user_chain(r, s->fp, PERF_MAX_FRAMES), ndw = 0;
	bool complete = false;

	if (r->regs_abi != PERF_SAMPLE_REGS_ABI_NONE && r->nregs >= 9) {
		ndw = perf_unwind_sample(s->uw, r->regs, r->nregs, r->stack, r->stack_dyn_size,
					 s->dw, PERF_MAX_FRAMES, &complete);
		if (ndw > 0 && !perf_unwinder_is_code(s->uw, s->dw[0]) &&
		    perf_unwinder_reload(s->uw) == 0)
			ndw = perf_unwind_sample(s->uw, r->regs, r->nregs, r->stack,
						 r->stack_dyn_size, s->dw, PERF_MAX_FRAMES,
						 &complete);
	}
	if (ndw == 0 && nfp == 0)
		return; /* a sample taken in the kernel with no user context */
	if (complete) {
		bool same = nfp == ndw && memcmp(s->fp, s->dw, ndw * sizeof(uint64_t)) == 0;
		ps.ips = same ? s->fp : s->dw;
		ps.n = ndw;
		ps.method = same ? PERF_METHOD_FP : PERF_METHOD_DWARF;
	} else if (nfp > ndw && (ndw == 0 || memcmp(s->fp, s->dw, ndw * sizeof(uint64_t)) == 0)) {
		/* the FP chain agrees with all DWARF could see and goes on past the copy */
		ps.ips = s->fp;
		ps.n = nfp;
		ps.method = ndw ? PERF_METHOD_FP_DEEP : PERF_METHOD_PARTIAL;
	} else {
		ps.ips = s->dw;
		ps.n = ndw;
		ps.method = PERF_METHOD_PARTIAL;
	}
	ps.tid = (pid_t)r->tid;
	ps.thread = s->cur_name;
	ps.time_ns = (int64_t)r->time;
	ps.period_ns = s->attr.freq ? (int64_t)(1e9 / s->o.hz) : (int64_t)r->period;
	ps.period = r->period ? r->period : s->attr.sample_period ? s->attr.sample_period : 1;
	ps.addr = r->addr;
	s->st.samples++;
	s->st.method[ps.method]++;
	s->fn(&ps, s->arg);
}

static void on_record(const void *rec, size_t len, void *arg)
{
	perf_sampler *s = arg;
	const struct perf_event_header *h = rec;
	struct perf_sample_rec r;
	uint64_t lost;

	if (h->type == PERF_RECORD_LOST) {
		if (perf_ring_parse_lost(rec, len, &lost) == 0)
			s->st.lost += lost;
	} else if (h->type == PERF_RECORD_SAMPLE) {
		if (perf_ring_parse_sample(rec, len, s->attr.sample_type, s->attr.sample_regs_user,
					   &r) < 0)
			s->st.dropped++;
		else
			deliver(s, &r);
	}
}

static void drain(perf_sampler *s, struct pthread_ev *t)
{
	struct perf_event_mmap_page *meta = (struct perf_event_mmap_page *)(void *)t->base;
	uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = meta->data_tail;
	int bad;

	if (head == tail)
		return;
	if (!t->named) {
		read_comm(s->pid, t->tid, t->name);
		t->named = true;
	}
	s->cur_name = t->name;
	tail = perf_ring_walk(t->base + (t->map_len - t->data_len), t->data_len, tail, head,
			      s->scratch, on_record, s, &bad);
	if (bad)
		s->st.dropped++;
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

static void thread_close(struct pthread_ev *t)
{
	if (t->done)
		return;
	munmap(t->base, t->map_len);
	close(t->fd);
	t->done = true;
}

int perf_sampler_open(pid_t pid, const struct perf_sampler_opts *o, perf_sampler **out, char *err,
		      size_t errlen)
{
	perf_sampler *s = xcalloc(1, sizeof(*s));
	struct perf_event_attr *a = &s->attr;
	int rc;

	s->pid = pid;
	s->o = *o;
	if (s->o.hz <= 0)
		s->o.hz = 99;
	if (!s->o.stack_bytes)
		s->o.stack_bytes = 8192;
	if (!s->o.ring_pages)
		s->o.ring_pages = 32;
	if (s->o.poll_ms <= 0)
		s->o.poll_ms = POLL_MS;
	s->scratch = xmalloc(PERF_RING_MAX_RECORD);
	a->size = sizeof(*a);
	a->sample_type = SAMPLE_TYPE;
	a->sample_regs_user = PERF_UNWIND_REGS_MASK;
	a->sample_stack_user = (uint32_t)s->o.stack_bytes;
	a->exclude_kernel = 1;
	a->exclude_hv = 1;
	a->exclude_callchain_kernel = 1;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	a->watermark = 1;
	a->wakeup_watermark = (uint32_t)(s->o.ring_pages * (size_t)sysconf(_SC_PAGESIZE) / 2);
	a->sample_max_stack =
	    PERF_MAX_FRAMES - 1; /* kernel.perf_event_max_stack is 127 by default */

	/* a live thread: the main one may have exited while the others run */
	pid_t first = util_proc_live_tid(pid);
	if (first < 0) {
		char hint[320];
		privhint_explain(pid, PRIVHINT_PERF, NULL, hint, sizeof(hint));
		snprintf(err, errlen, "perf_event_open(pid %d): no live thread: %s", (int)pid, hint);
		perf_sampler_free(s);
		return -ESRCH;
	}
	s->leader_gone = first != pid;
	rc = -ENOENT;
	if (o->event == PERF_SAMPLER_FAULTS) {
		/*
		 * Every fault, with its address: the kernel's frequency mode lets
		 * the period of a software event run far off, and a fixed period
		 * aliases with code that touches the same number of pages each time.
		 */
		a->type = PERF_TYPE_SOFTWARE;
		a->config = PERF_COUNT_SW_PAGE_FAULTS;
		a->sample_type |= PERF_SAMPLE_ADDR;
		/*
		 * With PERF_SAMPLE_PERIOD the kernel makes every software event a
		 * sample whatever the period (perf_swevent_event), so the period
		 * perf_sampler_set_period sets would not apply: a sample stands
		 * for the period in effect when its ring was drained.
		 */
		a->sample_type &= ~(uint64_t)PERF_SAMPLE_PERIOD;
		a->freq = 0;
		a->sample_period = 1;
		s->st.event = "page-faults";
		rc = thread_add(s, pid);
	} else if (o->try_cycles) {
		a->type = PERF_TYPE_HARDWARE;
		a->config = PERF_COUNT_HW_CPU_CYCLES;
		a->freq = 1;
		a->sample_freq = (uint64_t)s->o.hz;
		s->st.event = "cycles";
		rc = thread_add(s, first);
	}
	if (o->event == PERF_SAMPLER_CPU && (rc == -ENOENT || rc == -EOPNOTSUPP || rc == -EINVAL)) {
		/* cpu-clock counts nanoseconds: a fixed period is exact CPU time */
		a->type = PERF_TYPE_SOFTWARE;
		a->config = PERF_COUNT_SW_CPU_CLOCK;
		a->freq = 0;
		a->sample_period = (uint64_t)(1e9 / s->o.hz);
		s->st.event = "cpu-clock";
		rc = thread_add(s, first);
	}
	if (rc < 0) {
		char hint[320] = "";
		if (rc == -EPERM || rc == -EACCES || rc == -ESRCH)
			privhint_explain(pid, PRIVHINT_PERF, NULL, hint, sizeof(hint));
		snprintf(err, errlen, "perf_event_open(pid %d): %s%s%s", (int)pid, strerror(-rc),
			 hint[0] ? ": " : "", hint);
		perf_sampler_free(s);
		return rc;
	}
	rc = perf_unwinder_new(pid, &s->uw, err, errlen);
	if (rc < 0) {
		perf_sampler_free(s);
		return rc;
	}
	rescan(s);
	*out = s;
	return 0;
}

void perf_sampler_free(perf_sampler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nth; i++)
		thread_close(&s->th[i]);
	perf_unwinder_free(s->uw);
	free(s->th);
	free(s->pfd);
	free(s->scratch);
	free(s);
}

int perf_sampler_run(perf_sampler *s, int64_t until_mono_ms, volatile sig_atomic_t *stop,
		     perf_stack_fn fn, void *arg)
{
	s->fn = fn;
	s->arg = arg;
	for (;;) {
		int64_t now = util_mono_ms();
		size_t live = 0;
		int timeout;

		if (now - s->last_scan_ms >= RESCAN_MS && !s->st.process_gone && rescan(s) < 0)
			s->st.process_gone = true;
		for (size_t i = 0; i < s->nth; i++) {
			if (s->th[i].done)
				continue;
			s->pfd[live].fd = s->th[i].fd;
			s->pfd[live].events = POLLIN;
			s->pfd[live].revents = 0;
			live++;
		}
		if (live == 0)
			s->st.process_gone = true;
		if (s->st.process_gone || (stop && *stop) || now >= until_mono_ms)
			break;
		timeout = (int)(until_mono_ms - now);
		if (timeout > s->o.poll_ms)
			timeout = s->o.poll_ms;
		if (poll(s->pfd, live, timeout) < 0 && errno != EINTR)
			return -errno;
		/* drain every ring each round: a thread under the watermark still empties */
		for (size_t i = 0, j = 0; i < s->nth; i++) {
			if (s->th[i].done)
				continue;
			drain(s, &s->th[i]);
			if (s->pfd[j++].revents & (POLLHUP | POLLERR))
				thread_close(&s->th[i]);
		}
	}
	for (size_t i = 0; i < s->nth; i++)
		if (!s->th[i].done)
			drain(s, &s->th[i]);
	return 0;
}

int perf_sampler_set_period(perf_sampler *s, uint64_t period)
{
	int rc = 0;

	if (s->attr.freq || s->attr.type != PERF_TYPE_SOFTWARE ||
	    s->attr.config != PERF_COUNT_SW_PAGE_FAULTS || !period)
		return -EINVAL;
	if (s->attr.sample_period == period)
		return 0;
	s->attr.sample_period = period; /* for threads added by later rescans */
	for (size_t i = 0; i < s->nth; i++)
		if (!s->th[i].done && ioctl(s->th[i].fd, PERF_EVENT_IOC_PERIOD, &period) < 0 &&
		    errno != ESRCH)
			rc = -errno;
	return rc;
}

const struct perf_sampler_stats *perf_sampler_stats(const perf_sampler *s)
{
	return &s->st;
}

size_t perf_sampler_ring_bytes(const perf_sampler *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nth; i++)
		if (!s->th[i].done)
			n += s->th[i].map_len;
	return n;
}
