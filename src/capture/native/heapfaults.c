/* heapfaults: which code makes a native process's memory resident (a page-fault profile). */
#include "capture/native/heapfaults.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/native/perf_sampler.h"
#include "capture/native/symbolize.h"
#include "lib/util.h"

/*
 * A fault burst (a new buffer touched page by page) is many samples at once:
 * a 4 KiB stack copy (the culprit is a few frames above the fault) halves
 * each record, a 1 MiB ring per thread (less past 32 threads: 32 MiB of
 * locked ring memory in all) and a 20 ms drain keep up with a few
 * thousand faults a second on a busy machine. Lost records are counted.
 */
#define RING_PAGES  256
#define STACK_BYTES 4096
#define DRAIN_MS    20
/*
 * Each sampled fault costs the target a few microseconds (the sample, a
 * stack copy, a callchain) on top of the fault itself, so a process that
 * faults thousands of pages a second would pay a large share of its CPU.
 * Every fault is sampled while the process faults less than FAULT_BUDGET
 * a second; above it, one in N on average (N re-drawn every ADAPT_MS,
 * random so that no fixed period aliases with code that faults the same
 * number of pages each time), each sample standing for its period. A
 * steady process faults rarely and keeps every fault.
 */
#define FAULT_BUDGET 500
#define ADAPT_MS     100
#define PERIOD_MAX   256
/* Kernel ring memory is locked: a process with many threads gets smaller rings. */
#define RING_BUDGET (32u << 20)
#define RING_MIN    16

/* Ring pages per thread for a process with n threads, within RING_BUDGET. Pure. */
static size_t ring_pages_for(size_t n)
{
	size_t pages = RING_PAGES;

	while (pages > RING_MIN && n * pages * 4096 > RING_BUDGET)
		pages /= 2;
	return pages;
}

uint64_t heapfaults_next_period(uint64_t faults, int64_t ms, uint64_t *rnd)
{
	uint64_t mean, x;

	if (ms <= 0)
		ms = 1;
	/* faults a second over the budget: mean = rate / budget, rounded up */
	mean = (faults * 1000 + (uint64_t)ms * FAULT_BUDGET - 1) / ((uint64_t)ms * FAULT_BUDGET);
	if (mean <= 1)
		return 1;
	if (mean > PERIOD_MAX)
		mean = PERIOD_MAX;
	/* xorshift64: uniform on [1, 2 * mean - 1], whose mean is mean */
	x = *rnd ? *rnd : 0x9e3779b97f4a7c15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rnd = x;
	return 1 + x % (2 * mean - 1);
}

static size_t count_threads(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n ? n : 1;
}

/* The last fault of one page: who made it resident most recently. */
struct page_slot {
	uint64_t key; /* page number + 1; 0 = empty */
	uint32_t stack;
	uint32_t faults;
};

struct fault_state {
	perf_profile *prof;
	sym_proc *sp;
	int64_t page;
	int64_t faults;
	struct page_slot *slots;
	size_t nslots, cap; /* cap a power of two */
};

static uint64_t page_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	return k ^ (k >> 33);
}

static struct page_slot *page_find(struct fault_state *c, uint64_t key)
{
	size_t j = page_hash(key) & (c->cap - 1);

	while (c->slots[j].key && c->slots[j].key != key)
		j = (j + 1) & (c->cap - 1);
	return &c->slots[j];
}

static void page_grow(struct fault_state *c)
{
	struct page_slot *old = c->slots;
	size_t ocap = c->cap;

	c->cap = ocap ? ocap * 2 : 4096;
	c->slots = xcalloc(c->cap, sizeof(*c->slots));
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key)
			*page_find(c, old[i].key) = old[i];
	free(old);
}

/*
 * A page faulted again (after free() gave it back to the kernel) belongs to
 * the code that touched it last: charging every fault would blame churn
 * that holds nothing.
 */
static void on_fault(const struct perf_stack *s, void *arg)
{
	struct fault_state *c = arg;
	size_t id = perf_profile_intern(c->prof, s->thread, s->ips, s->n);
	struct page_slot *e;

	c->faults += (int64_t)s->period;
	perf_profile_charge(c->prof, id, (int64_t)s->period, 0);
	if ((c->nslots + 1) * 2 > c->cap)
		page_grow(c);
	e = page_find(c, s->addr / (uint64_t)c->page + 1);
	if (!e->key)
		c->nslots++;
	*e = (struct page_slot){s->addr / (uint64_t)c->page + 1, (uint32_t)id, (uint32_t)s->period};
	/* names now: the target may be gone when the profile ends */
	perf_profile_resolve(c->prof, c->sp);
}

/* Whether addr is in one of the mappings (sorted by address, as the kernel lists them). */
static bool mapped(const struct sym_map *m, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < m[mid].start)
			hi = mid;
		else if (addr >= m[mid].limit)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static int cmp_slot(const void *x, const void *y)
{
	const struct page_slot *a = x, *b = y;
	return a->key < b->key ? -1 : a->key > b->key;
}

#define CHUNK_PAGES 512 /* 2 MiB of 4 KiB pages: one pread of pagemap */

/* Pages present or swapped among n pagemap entries. */
static int64_t count_present(const uint64_t *ent, size_t n)
{
	int64_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((ent[i] >> 62) & 3) != 0;
	return k;
}

/*
 * Charges each page still resident (or swapped) at the end to its last
 * sampled toucher: mapped per /proc/PID/maps and present per
 * /proc/PID/pagemap (the present bit needs no privilege beyond reading the
 * process). A sampled page stands for its period's worth of pages; where
 * the sampling overshoots (pages faulted again and again at a high rate),
 * no 2 MiB chunk is charged more than the pages it really has resident,
 * each page's share scaled down alike. A process that exited keeps every
 * page. Returns the bytes charged.
 */
static int64_t charge_held(struct fault_state *c, pid_t pid, bool gone)
{
	char path[64];
	char *buf = NULL;
	size_t len = 0, nmaps = 0, n = 0;
	struct sym_map *maps = NULL;
	struct page_slot *pages;
	uint64_t ent[CHUNK_PAGES];
	int pm = -1;
	int64_t held = 0;

	if (!gone) {
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
		if (util_read_file(path, &buf, &len, 64u << 20) == 0 &&
		    sym_parse_maps(buf, len, &maps, &nmaps) < 0)
			nmaps = 0;
		free(buf);
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
		pm = open(path, O_RDONLY | O_CLOEXEC);
	}
	/* the sampled pages in address order, the pages of one chunk side by side */
	pages = xcalloc(c->nslots ? c->nslots : 1, sizeof(*pages));
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].key && (!maps || mapped(maps, nmaps, (c->slots[i].key - 1) *
								   (uint64_t)c->page)))
			pages[n++] = c->slots[i];
	qsort(pages, n, sizeof(*pages), cmp_slot);
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t chunk = (pages[i].key - 1) / CHUNK_PAGES;
		int64_t weight = 0, present = -1;
		bool got = false;

		for (j = i; j < n && (pages[j].key - 1) / CHUNK_PAGES == chunk; j++)
			;
		if (pm >= 0 && pread(pm, ent, sizeof(ent), (off_t)(chunk * sizeof(ent))) ==
				       (ssize_t)sizeof(ent)) {
			got = true;
			present = count_present(ent, CHUNK_PAGES);
		}
		for (size_t k = i; k < j; k++) {
			uint64_t off = (pages[k].key - 1) % CHUNK_PAGES, one;
			bool keep = true;
			if (got)
				keep = (ent[off] >> 62) & 3; /* bit 63 present, bit 62 swapped */
			else if (pm >= 0 && pread(pm, &one, sizeof(one),
						  (off_t)((pages[k].key - 1) * sizeof(one))) ==
						(ssize_t)sizeof(one))
				keep = (one >> 62) & 3; /* a chunk cut short: page by page */
			if (keep)
				weight += pages[k].faults;
			else
				pages[k].key = 0;
		}
		/* scaled down to the present pages, the rounding carried from page to page */
		for (size_t k = i, cum = 0, done = 0; k < j; k++) {
			int64_t w = pages[k].faults;
			if (!pages[k].key)
				continue;
			if (present >= 0 && weight > present) {
				cum += (size_t)w;
				w = (int64_t)((cum * (size_t)present) / (size_t)weight - done);
				done += (size_t)w;
			}
			perf_profile_charge(c->prof, pages[k].stack, 0, w * c->page);
			held += w * c->page;
		}
	}
	free(pages);
	if (pm >= 0)
		close(pm);
	sym_maps_free(maps, nmaps);
	return held;
}

/* Runtime libraries: a fault inside them is charged to their caller. */
static const char *const runtime_libs[] = {
    "libc.so",	   "libc-",	   "ld-linux",	 "ld-musl",	 "libstdc++",
    "libgcc_s",	   "libm.so",	   "libpthread", "libdl.so",	 "libjemalloc",
    "libtcmalloc", "libmimalloc", "libz.so",	 "libcrypto.so", "libssl.so",
};

int heapfaults_frame_class(const char *module, const char *exe)
{
	const char *base;

	if (!module || !module[0] || module[0] == '[')
		return 0;
	if (exe && exe[0] && strcmp(module, exe) == 0)
		return 3;
	base = strrchr(module, '/');
	base = base ? base + 1 : module;
	for (size_t i = 0; i < ARRAY_LEN(runtime_libs); i++)
		if (strncmp(base, runtime_libs[i], strlen(runtime_libs[i])) == 0)
			return 1;
	return 2;
}

static int class_cb(const char *function, const char *module, void *arg)
{
	UNUSED(function);
	return heapfaults_frame_class(module, arg);
}

void heapfaults_fmt_bytes(int64_t v, char *buf, size_t len)
{
	double a = (double)(v < 0 ? -v : v);
	const char *sign = v < 0 ? "-" : "";

	if (a >= 1024.0 * 1024 * 1024)
		snprintf(buf, len, "%s%.1f GiB", sign, a / (1024.0 * 1024 * 1024));
	else if (a >= 1024.0 * 1024)
		snprintf(buf, len, "%s%.1f MiB", sign, a / (1024.0 * 1024));
	else if (a >= 1024.0)
		snprintf(buf, len, "%s%.0f KiB", sign, a / 1024.0);
	else
		snprintf(buf, len, "%s%.0f B", sign, a);
}

void heapfaults_format(FILE *f, const struct heapfaults_result *r, size_t max)
{
	char b[32];

	char t[32];

	heapfaults_fmt_bytes(r->bytes, b, sizeof(b));
	heapfaults_fmt_bytes(r->touched, t, sizeof(t));
	fprintf(f, "# by code: memory made resident during a %.1f s page-fault profile and still\n",
		(double)r->duration_ms / 1000.0);
	fprintf(f, "# resident at its end (faults.pb.gz), each page charged to the innermost frame\n");
	fprintf(f, "# in the program's own code of its last fault\n");
	fprintf(f, "# %s still resident of %s faulted in (%lld faults, %llu sampled, %llu lost),",
		b, t, (long long)r->faults, (unsigned long long)r->samples,
		(unsigned long long)r->lost);
	fprintf(f, " %zu threads%s\n", r->threads, r->process_gone ? ", the process exited" : "");
	fprintf(f, "#     resident       faults  function\n");
	for (size_t i = 0; i < r->ntop && i < max; i++) {
		const struct perf_profile_fn *e = &r->top[i];
		heapfaults_fmt_bytes(e->value, b, sizeof(b));
		fprintf(f, "%14s %12lld  %s", b, (long long)e->count, e->function);
		if (e->file)
			fprintf(f, " (%s:%d)", e->file, e->line);
		if (e->module)
			fprintf(f, " [%s]", e->module);
		fputc('\n', f);
	}
	if (r->ntop == 0)
		fprintf(f, "# (no page fault: nothing new was made resident during the profile)\n");
}

/* The executable's path as the target's maps name it; "" when unreadable. */
static void exe_path(pid_t pid, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
}

static int write_files(bundle *b, perf_profile *prof, int64_t wall_ms, int64_t dur_ns,
		       int64_t page, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;

	if (!util_snprintf(path, sizeof(path), "%s/faults.pb.gz", bundle_dir(b)))
		return util_err(err, errlen, -ENAMETOOLONG, "bundle path too long");
	rc = perf_profile_write_pprof(prof, path, wall_ms * 1000000, dur_ns, page,
				      "hound page-fault profile (perf_event page-faults)", err,
				      errlen);
	if (rc < 0)
		return rc;
	bundle_add_file(b, "faults.pb.gz", "heap", "pprof");
	if (!util_snprintf(path, sizeof(path), "%s/faults.folded", bundle_dir(b)))
		return util_err(err, errlen, -ENAMETOOLONG, "bundle path too long");
	rc = perf_profile_write_folded(prof, path, err, errlen);
	if (rc < 0)
		return rc;
	bundle_add_file(b, "faults.folded", "heap", "folded");
	return 0;
}

int heapfaults_capture(pid_t pid, int64_t dur_ms, volatile sig_atomic_t *stop, bundle *b,
		       struct heapfaults_result *out, char *err, size_t errlen)
{
	struct perf_sampler_opts o = {.event = PERF_SAMPLER_FAULTS,
				      .ring_pages = RING_PAGES,
				      .stack_bytes = STACK_BYTES,
				      .poll_ms = DRAIN_MS};
	struct fault_state c = {0};
	const struct perf_sampler_stats *st;
	perf_sampler *s = NULL;
	char exe[PATH_MAX];
	int64_t start, wall;
	uint64_t rnd, period;
	int rc;

	memset(out, 0, sizeof(*out));
	c.page = sysconf(_SC_PAGESIZE);
	o.ring_pages = ring_pages_for(count_threads(pid));
	rc = perf_sampler_open(pid, &o, &s, err, errlen);
	if (rc < 0)
		return rc;
	c.prof = perf_profile_new();
	perf_profile_set_types(c.prof, "faults", "count", "resident", "bytes", true);
	rc = sym_proc_open(symbolizer_shared(), pid, &c.sp, err, errlen);
	if (rc < 0)
		goto out;
	exe_path(pid, exe, sizeof(exe));
	start = util_mono_ms();
	wall = util_wall_ms();
	rnd = (uint64_t)util_mono_ms() * 0x2545f4914f6cdd1dULL ^ (uint64_t)pid;
	for (int64_t t0 = start, now = start; rc == 0;) {
		int64_t seen = c.faults;
		int64_t until = now + ADAPT_MS < start + dur_ms ? now + ADAPT_MS : start + dur_ms;
		rc = perf_sampler_run(s, until, stop, on_fault, &c);
		st = perf_sampler_stats(s);
		now = util_mono_ms();
		if (rc < 0 || st->process_gone || (stop && *stop) || now >= start + dur_ms)
			break;
		/* the rate of the slice just drained (its samples times their periods) */
		period = heapfaults_next_period((uint64_t)(c.faults - seen), now - t0, &rnd);
		perf_sampler_set_period(s, period); /* on failure the last period stays: still exact */
		t0 = now;
	}
	if (rc < 0) {
		util_err(err, errlen, rc, "poll on perf_event fds of pid %d: %s", (int)pid,
			 strerror(-rc));
		goto out;
	}
	st = perf_sampler_stats(s);

	out->duration_ms = util_mono_ms() - start;
	out->samples = st->samples;
	out->lost = st->lost;
	out->threads = st->threads_seen;
	out->process_gone = st->process_gone;
	out->faults = c.faults;
	out->touched = c.faults * c.page;
	out->bytes = charge_held(&c, pid, st->process_gone);
	out->ntop = perf_profile_top(c.prof, class_cb, exe, &out->top);
	rc = write_files(b, c.prof, wall, out->duration_ms * 1000000, c.page, err, errlen);
out:
	sym_proc_free(c.sp);
	perf_profile_free(c.prof);
	perf_sampler_free(s);
	free(c.slots);
	return rc;
}

void heapfaults_result_fini(struct heapfaults_result *r)
{
	perf_profile_fns_free(r->top, r->ntop);
	memset(r, 0, sizeof(*r));
}
