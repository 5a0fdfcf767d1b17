/* mtrack: malloc tracking of a native process for a heap capture (eBPF uprobes, sampled by bytes). */
#include "capture/native/mtrack.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/native/heapfaults.h"
#include "capture/native/mtrack_attach.h"
#include "capture/native/mtrack_bpf.h"
#include "capture/native/mtrack_guard.h"
#include "capture/native/perf_unwind.h"
#include "capture/native/symbolize.h"
#include "lib/log.h"
#include "lib/util.h"

/* How long the allocator calls are counted before the plan, and the ring's drain period. */
#define COUNT_MS 250
#define POLL_MS 50
#define MAX_FRAMES 64
/* When the cost probe cannot run: the slow end measured for a uprobe + uretprobe + stack. */
#define FALLBACK_PAIR_NS 15000.0

static uint64_t outcomes[MTRACK_NOUTCOMES];

const char *mtrack_outcome_name(enum mtrack_outcome o)
{
	static const char *const names[MTRACK_NOUTCOMES] = {"ok", "over_budget", "no_privilege",
							     "unavailable", "failed"};
	return (unsigned)o < MTRACK_NOUTCOMES ? names[o] : "?";
}

void mtrack_outcomes(uint64_t out[MTRACK_NOUTCOMES])
{
	for (int i = 0; i < MTRACK_NOUTCOMES; i++)
		out[i] = __atomic_load_n(&outcomes[i], __ATOMIC_RELAXED);
}

static void count_outcome(int rc)
{
	enum mtrack_outcome o = rc == 0		      ? MTRACK_OK
				: rc == -ECANCELED		      ? MTRACK_OVER_BUDGET
				: rc == -EPERM || rc == -EACCES ? MTRACK_NO_PRIVILEGE
				: rc == -ENOSYS || rc == -ENOENT ? MTRACK_UNAVAILABLE
								 : MTRACK_FAILED;

	__atomic_add_fetch(&outcomes[o], 1, __ATOMIC_RELAXED);
}

double mtrack_weight(uint64_t size, uint64_t mean)
{
	double p;

	if (size == 0 || mean == 0)
		return 1.0;
	p = -expm1(-(double)size / (double)mean);
	return p > 0 ? 1.0 / p : 1.0;
}

/* A sample id and the profile stack it was charged to (open addressing). */
struct id_slot {
	uint64_t id; /* 0 = empty */
	uint32_t stack;
	uint32_t pad;
};

struct track_state {
	perf_profile *prof;
	perf_profile *rprof; /* per stack: live bytes (count), resident bytes (value); for the top */
	int pagemap;	     /* /proc/PID/pagemap, -1 when unreadable */
	uint64_t page;
	perf_unwinder *uw;
	sym_proc *sp;
	uint64_t mean;
	struct id_slot *ids;
	size_t nids, cap; /* cap a power of two */
	double alloc_bytes, live_bytes, resident_bytes;
};

static struct id_slot *id_find(struct track_state *t, uint64_t id)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ULL;
	size_t j = (size_t)(h >> 20) & (t->cap - 1);

	while (t->ids[j].id && t->ids[j].id != id)
		j = (j + 1) & (t->cap - 1);
	return &t->ids[j];
}

static void id_put(struct track_state *t, uint64_t id, size_t stack)
{
	struct id_slot *e;

	if ((t->nids + 1) * 2 > t->cap) {
		struct id_slot *old = t->ids;
		size_t ocap = t->cap;

		t->cap = ocap ? ocap * 2 : 4096;
		t->ids = xcalloc(t->cap, sizeof(*t->ids));
		for (size_t i = 0; i < ocap; i++)
			if (old[i].id)
				*id_find(t, old[i].id) = old[i];
		free(old);
	}
	e = id_find(t, id);
	if (!e->id)
		t->nids++;
	*e = (struct id_slot){id, (uint32_t)stack, 0};
}

/* A sampled call: unwind its stack copy and count it as allocated. */
static void on_event(const struct mtrack_event *e, void *arg)
{
	struct track_state *t = arg;
	uint64_t ips[MAX_FRAMES];
	char comm[sizeof(e->comm) + 1];
	bool complete;
	size_t n, stack;
	double w = mtrack_weight(e->size, t->mean);

	n = perf_unwind_sample(t->uw, (const uint64_t *)e->regs, MTRACK_NREGS, e->stack,
			       e->stack_len < sizeof(e->stack) ? e->stack_len : sizeof(e->stack), ips,
			       MAX_FRAMES, &complete);
	if (n == 0) {
		ips[0] = e->regs[8]; /* at least the allocator's own pc */
		n = 1;
	}
	memcpy(comm, e->comm, sizeof(e->comm));
	comm[sizeof(e->comm)] = 0;
	stack = perf_profile_intern(t->prof, comm, ips, n);
	/* the same stack index in both: they intern the same sequence */
	perf_profile_intern(t->rprof, comm, ips, n);
	perf_profile_charge_extra(t->prof, stack, llround(w), llround(w * (double)e->size));
	t->alloc_bytes += w * (double)e->size;
	id_put(t, e->id, stack);
}

/* Bytes of [addr, addr + size) on resident (or swapped) pages, per /proc/PID/pagemap. */
static uint64_t resident(struct track_state *t, uint64_t addr, uint64_t size)
{
	uint64_t first = addr / t->page, last = (addr + size - 1) / t->page, ent[512], got = 0;

	if (t->pagemap < 0 || size == 0)
		return size;
	for (uint64_t p = first; p <= last;) {
		size_t n = (size_t)(last - p + 1 < 512 ? last - p + 1 : 512);
		ssize_t r = pread(t->pagemap, ent, n * sizeof(ent[0]), (off_t)(p * sizeof(ent[0])));

		if (r <= 0)
			break;
		n = (size_t)r / sizeof(ent[0]);
		for (size_t i = 0; i < n; i++, p++) {
			uint64_t lo = p * t->page, hi = lo + t->page;

			if (!((ent[i] >> 62) & 3)) /* bit 63 present, bit 62 swapped */
				continue;
			lo = lo < addr ? addr : lo;
			hi = hi > addr + size ? addr + size : hi;
			got += hi - lo;
		}
	}
	return got;
}

/* A sampled allocation still live at the end: in use, charged to its stack. */
static void on_live(uint64_t addr, uint64_t size, uint64_t id, void *arg)
{
	struct track_state *t = arg;
	struct id_slot *e = t->cap ? id_find(t, id) : NULL;
	double w = mtrack_weight(size, t->mean);
	double res = w * (double)resident(t, addr, size);

	if (!e || !e->id)
		return; /* its event was lost (ring full) */
	perf_profile_charge(t->prof, e->stack, llround(w), llround(w * (double)size));
	perf_profile_charge(t->rprof, e->stack, llround(w * (double)size), llround(res));
	t->live_bytes += w * (double)size;
	t->resident_bytes += res;
}

static bool alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno != ESRCH;
}

/* Sleeps up to ms in short steps; false when stopped or the process is gone. */
static bool nap(pid_t pid, int64_t ms, volatile sig_atomic_t *stop)
{
	int64_t end = util_mono_ms() + ms;

	while (util_mono_ms() < end) {
		if ((stop && *stop) || !alive(pid))
			return false;
		usleep(20000);
	}
	return true;
}

/* Exponential quantiles of mean `mean`: the kernel picks one at random per sample. */
static void fill_draws(uint64_t *draws, uint64_t mean)
{
	for (size_t i = 0; i < MTRACK_DRAWS; i++) {
		double q = ((double)i + 0.5) / MTRACK_DRAWS;
		draws[i] = (uint64_t)llround(-log(q) * (double)mean) + 1;
	}
}

/* Counts the allocator calls for COUNT_MS and plans the tracking. */
static int plan(mtrack_bpf *m, pid_t pid, const struct mtrack_opts *o,
		volatile sig_atomic_t *stop, struct mtrack_result *out, struct mtrack_plan *pl,
		char *err, size_t errlen)
{
	struct mtrack_bpf_counts a, b;
	int64_t t0 = util_mono_ms(), dt;

	mtrack_bpf_counts(m, &a);
	nap(pid, COUNT_MS, stop);
	mtrack_bpf_counts(m, &b);
	dt = util_mono_ms() - t0;
	if (dt <= 0)
		dt = 1;
	out->calls_per_s = (double)(b.alloc_calls - a.alloc_calls > b.free_calls - a.free_calls
					? b.alloc_calls - a.alloc_calls
					: b.free_calls - a.free_calls) *
			   1000.0 / (double)dt;
	mtrack_guard_plan(out->calls_per_s, out->pair_ns, o->budget, o->duration_ms, pl);
	out->cost_cores = pl->cost_cores;
	out->shortened = pl->shortened;
	if (pl->refused)
		return util_err(err, errlen, -ECANCELED,
				"malloc tracking skipped: pid %d calls the allocator %.0f times/s; at "
				"%.1f us per call that is %.2g%% of a core, over the %.3g%% budget "
				"even for %d s",
				(int)pid, out->calls_per_s, out->pair_ns / 1000.0,
				pl->cost_cores * 100.0, o->budget * 100.0, MTRACK_GUARD_MIN_MS / 1000);
	return 0;
}

static int write_files(bundle *b, perf_profile *prof, const struct mtrack_opts *o, int64_t wall_ms,
		       int64_t dur_ms, char *err, size_t errlen)
{
	char path[PATH_MAX], comment[128];
	int rc;

	snprintf(comment, sizeof(comment),
		 "hound malloc tracking (eBPF uprobes), sampled every %llu bytes on average",
		 (unsigned long long)o->sample_bytes);
	if (!util_snprintf(path, sizeof(path), "%s/malloc.pb.gz", bundle_dir(b)))
		return util_err(err, errlen, -ENAMETOOLONG, "bundle path too long");
	rc = perf_profile_write_pprof(prof, path, wall_ms * 1000000, dur_ms * 1000000,
				      (int64_t)o->sample_bytes, comment, err, errlen);
	if (rc < 0)
		return rc;
	bundle_add_file(b, "malloc.pb.gz", "heap", "pprof");
	if (!util_snprintf(path, sizeof(path), "%s/malloc.folded", bundle_dir(b)))
		return util_err(err, errlen, -ENAMETOOLONG, "bundle path too long");
	rc = perf_profile_write_folded(prof, path, err, errlen);
	if (rc == 0)
		bundle_add_file(b, "malloc.folded", "heap", "folded");
	return rc;
}

static int class_cb(const char *function, const char *module, void *arg)
{
	UNUSED(function);
	return heapfaults_frame_class(module, arg);
}

/* Samples until the deadline, then reads what is still live. */
static int track(mtrack_bpf *m, pid_t pid, int64_t dur_ms, volatile sig_atomic_t *stop,
		 struct track_state *t, struct mtrack_result *out, char *err, size_t errlen)
{
	int64_t start = util_mono_ms(), end = start + dur_ms;
	struct mtrack_bpf_counts c;
	int rc = 0;

	mtrack_bpf_set_tracking(m, true);
	while (util_mono_ms() < end && !(stop && *stop)) {
		if (!alive(pid)) {
			out->process_gone = true;
			break;
		}
		rc = mtrack_bpf_poll(m, POLL_MS, on_event, t);
		if (rc < 0 && rc != -EINTR)
			break;
		rc = 0;
		perf_unwinder_reload(t->uw);
		perf_profile_resolve(t->prof, t->sp);
		perf_profile_resolve(t->rprof, t->sp);
	}
	mtrack_bpf_set_tracking(m, false);
	mtrack_bpf_poll(m, 0, on_event, t);
	if (!out->process_gone) {
		perf_profile_resolve(t->prof, t->sp);
		perf_profile_resolve(t->rprof, t->sp);
	}
	out->duration_ms = util_mono_ms() - start;
	if (rc < 0)
		return util_err(err, errlen, rc, "epoll_wait on the malloc-tracking ring: %s",
				strerror(-rc));
	rc = mtrack_bpf_live(m, on_live, t);
	if (rc < 0)
		return util_err(err, errlen, rc, "bpf(BPF_MAP_GET_NEXT_KEY) on the live table: %s",
				strerror(-rc));
	mtrack_bpf_counts(m, &c);
	out->alloc_calls = c.alloc_calls;
	out->free_calls = c.free_calls;
	out->sampled = c.sampled;
	out->lost = c.ring_full + c.live_full;
	out->live_bytes = llround(t->live_bytes);
	out->resident_bytes = llround(t->resident_bytes);
	out->alloc_bytes = llround(t->alloc_bytes);
	return 0;
}

int mtrack_capture(pid_t pid, const struct mtrack_opts *o, volatile sig_atomic_t *stop, bundle *b,
		   struct mtrack_result *out, char *err, size_t errlen)
{
	uint64_t draws[MTRACK_DRAWS];
	struct track_state t = {.mean = o->sample_bytes, .pagemap = -1};
	struct mtrack_plan pl;
	mtrack_bpf *m = NULL;
	char exe[PATH_MAX], why[256];
	char *e;
	int64_t wall = util_wall_ms();
	int rc;

	memset(out, 0, sizeof(*out));
	out->requested_ms = o->duration_ms;
	if (mtrack_guard_pair_cost(o->sample_bytes, &out->pair_ns, why, sizeof(why)) < 0) {
		out->pair_ns = FALLBACK_PAIR_NS;
		out->pair_assumed = true;
		log_info("malloc tracking cost probe failed", "reason=%s", why);
	}
	fill_draws(draws, o->sample_bytes);
	rc = mtrack_bpf_open(pid, draws, &m, err, errlen);
	if (rc < 0) {
		count_outcome(rc);
		return rc;
	}
	rc = mtrack_attach_process(m, pid, out->modules, sizeof(out->modules), err, errlen);
	if (rc >= 0)
		rc = plan(m, pid, o, stop, out, &pl, err, errlen);
	if (rc < 0)
		goto out;
	rc = perf_unwinder_new(pid, &t.uw, err, errlen);
	if (rc == 0)
		rc = sym_proc_open(symbolizer_shared(), pid, &t.sp, err, errlen);
	if (rc < 0)
		goto out;
	snprintf(exe, sizeof(exe), "/proc/%d/pagemap", (int)pid);
	t.pagemap = open(exe, O_RDONLY | O_CLOEXEC);
	t.page = (uint64_t)sysconf(_SC_PAGESIZE);
	t.rprof = perf_profile_new();
	t.prof = perf_profile_new();
	perf_profile_set_types(t.prof, "inuse_objects", "count", "inuse_space", "bytes", true);
	perf_profile_set_extra_types(t.prof, "alloc_objects", "count", "alloc_space", "bytes");
	rc = track(m, pid, pl.duration_ms, stop, &t, out, err, errlen);
	/* the probes go before the files are written: the target runs free of them */
	mtrack_bpf_free(m);
	m = NULL;
	if (rc < 0)
		goto out;
	e = util_read_proc_exe(pid);
	snprintf(exe, sizeof(exe), "%s", e ? e : "");
	free(e);
	/* who holds the most resident memory; by live bytes when none of it was touched */
	out->ntop = perf_profile_top(t.rprof, class_cb, exe, &out->top);
	out->by_live = out->ntop == 0;
	if (out->by_live) {
		perf_profile_fns_free(out->top, out->ntop);
		out->ntop = perf_profile_top(t.prof, class_cb, exe, &out->top);
	}
	rc = write_files(b, t.prof, o, wall, out->duration_ms, err, errlen);
out:
	mtrack_bpf_free(m);
	perf_profile_free(t.prof);
	perf_profile_free(t.rprof);
	if (t.pagemap >= 0)
		close(t.pagemap);
	perf_unwinder_free(t.uw);
	sym_proc_free(t.sp);
	free(t.ids);
	count_outcome(rc);
	return rc;
}

void mtrack_result_fini(struct mtrack_result *r)
{
	perf_profile_fns_free(r->top, r->ntop);
	memset(r, 0, sizeof(*r));
}

void mtrack_format(FILE *f, const struct mtrack_result *r, size_t max)
{
	char live[32], alloc[32], res[32];

	heapfaults_fmt_bytes(r->live_bytes, live, sizeof(live));
	heapfaults_fmt_bytes(r->alloc_bytes, alloc, sizeof(alloc));
	heapfaults_fmt_bytes(r->resident_bytes, res, sizeof(res));
	fprintf(f, "# by code: memory allocated during %.1f s of malloc tracking and not freed at its\n",
		(double)r->duration_ms / 1000.0);
	fprintf(f, "# end (malloc.pb.gz, sampled by bytes, scaled), charged to the innermost frame in\n");
	fprintf(f, "# the program's own code that called the allocator; ranked by the part of it\n");
	fprintf(f, "# on resident pages%s\n",
		r->by_live ? " (none was resident: ranked by live bytes)" : "");
	fprintf(f, "# %s live (%s resident) of %s allocated (%llu calls, %llu sampled, %llu lost)%s\n",
		live, res, alloc, (unsigned long long)r->alloc_calls, (unsigned long long)r->sampled,
		(unsigned long long)r->lost, r->process_gone ? ", the process exited" : "");
	fprintf(f, "#     resident         live  function\n");
	for (size_t i = 0; i < r->ntop && i < max; i++) {
		const struct perf_profile_fn *e = &r->top[i];
		/* by resident: value resident, count live; by live: value live */
		heapfaults_fmt_bytes(r->by_live ? 0 : e->value, res, sizeof(res));
		heapfaults_fmt_bytes(r->by_live ? e->value : e->count, live, sizeof(live));
		fprintf(f, "%14s %12s  %s", res, live, e->function);
		if (e->file)
			fprintf(f, " (%s:%d)", e->file, e->line);
		if (e->module)
			fprintf(f, " [%s]", e->module);
		fputc('\n', f);
	}
	if (r->ntop == 0)
		fprintf(f, "# (no sampled allocation was still live at the end)\n");
}

void mtrack_describe(const struct mtrack_result *r, uint64_t sample_bytes, double budget,
		     char *buf, size_t len)
{
	char mean[32];

	heapfaults_fmt_bytes((int64_t)sample_bytes, mean, sizeof(mean));
	snprintf(buf, len,
		 "malloc tracking in %s for %.1f s%s, sampled every %s on average; the target "
		 "called the allocator %.0f times/s, at %.1f us per call%s: %.2g%% of a core "
		 "(budget %.3g%%)%s",
		 r->modules[0] ? r->modules : "?", (double)r->duration_ms / 1000.0,
		 r->shortened ? " (shortened from the requested duration to stay in budget)" : "",
		 mean, r->calls_per_s, r->pair_ns / 1000.0,
		 r->pair_assumed ? " (assumed: the cost probe failed)" : "", r->cost_cores * 100.0,
		 budget * 100.0,
		 r->process_gone ? "; the process exited during it" : "");
}
