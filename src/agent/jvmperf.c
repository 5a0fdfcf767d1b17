/*
 * jvmperf: the JVM publishes its GC and heap counters in a shared memory
 * file for jstat. Reading that mapping costs a few loads: the JVM is not
 * asked anything, so no safepoint, no attach thread, no signal. Offsets are
 * resolved once by name (and again if the JVM adds entries), so a sample
 * reads only the counters it needs.
 */
#include "agent/jvmperf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/hsperf.h"
#include "lib/util.h"

#define NO_OFF ((size_t)-1)

struct collector {
	size_t inv, time, entry, exit;      /* offsets of the counters */
	int64_t prev_inv, prev_time;
	int64_t prev_running;               /* ticks of a running collection already counted */
};

struct jvm_sampler {
	const unsigned char *map;
	size_t len;
	struct hsperf_header h;
	uint32_t indexed_entries;           /* num_entries when the index was built */
	double freq;                        /* ticks per second */
	size_t ticks, safepoint_time, safepoints, threads;
	size_t last_cause, last_cause_len;  /* sun.gc.lastCause, a 'B' string */
	struct collector col[JVM_MAX_COLLECTORS];
	size_t ncol;
	size_t space_used[JVM_MAX_SPACES];
	int space_gen[JVM_MAX_SPACES];
	size_t nspace;
	int old_gen, max_gen;               /* the generation named "old", else the highest */
	bool have_prev;
	int64_t prev_ticks, prev_safepoint_time, prev_mono_ms;
	struct jvm_view view;
};

static int64_t rd(const jvm_sampler *j, size_t off)
{
	return off == NO_OFF ? 0 : hsperf_long(j->map, &j->h, off);
}

/* "sun.gc.collector.2.time" -> 2 and "time"; false when not of that shape. */
static bool indexed(const struct hsperf_entry *e, const char *prefix, int *idx, const char **rest)
{
	size_t k = strlen(prefix);
	if (e->name_len <= k || memcmp(e->name, prefix, k) != 0)
		return false;
	char *end;
	long v = strtol(e->name + k, &end, 10);
	if (end == e->name + k || *end != '.' || v < 0 || v > 64)
		return false;
	*idx = (int)v;
	*rest = end + 1;
	return true;
}

static void index_entry(jvm_sampler *j, const struct hsperf_entry *e)
{
	const char *rest;
	int c, g;

	if (e->type == 'B') {
		if (!strcmp(e->name, "sun.gc.lastCause")) {
			j->last_cause = e->data_off;
			j->last_cause_len = e->data_len;
		} else if (!strcmp(e->name, "sun.gc.policy.name"))
			hsperf_string(j->map, e, j->view.gc, sizeof(j->view.gc));
		else if (!strcmp(e->name, "java.property.java.vm.version"))
			hsperf_string(j->map, e, j->view.version, sizeof(j->view.version));
		else if (indexed(e, "sun.gc.generation.", &g, &rest) && !strcmp(rest, "name")) {
			char name[16];
			hsperf_string(j->map, e, name, sizeof(name));
			if (!strcmp(name, "old"))
				j->old_gen = g;
		}
		return;
	}
	if (e->type != 'J' || e->vector_length)
		return;
	if (!strcmp(e->name, "sun.os.hrt.frequency"))
		j->freq = (double)hsperf_long(j->map, &j->h, e->data_off);
	else if (!strcmp(e->name, "sun.os.hrt.ticks"))
		j->ticks = e->data_off;
	else if (!strcmp(e->name, "sun.rt.safepointTime"))
		j->safepoint_time = e->data_off;
	else if (!strcmp(e->name, "sun.rt.safepoints"))
		j->safepoints = e->data_off;
	else if (!strcmp(e->name, "java.threads.live"))
		j->threads = e->data_off;
	else if (indexed(e, "sun.gc.collector.", &c, &rest) && c < JVM_MAX_COLLECTORS) {
		struct collector *k = &j->col[c];
		if (!strcmp(rest, "invocations"))
			k->inv = e->data_off;
		else if (!strcmp(rest, "time"))
			k->time = e->data_off;
		else if (!strcmp(rest, "lastEntryTime"))
			k->entry = e->data_off;
		else if (!strcmp(rest, "lastExitTime"))
			k->exit = e->data_off;
		else
			return;
		if ((size_t)c + 1 > j->ncol)
			j->ncol = (size_t)c + 1;
	} else if (indexed(e, "sun.gc.generation.", &g, &rest) && util_str_has_prefix(rest, "space.")) {
		const char *r2 = rest + 6;
		char *end;
		long s = strtol(r2, &end, 10);
		if (end != r2 && !strcmp(end, ".used") && j->nspace < JVM_MAX_SPACES) {
			(void)s;
			j->space_used[j->nspace] = e->data_off;
			j->space_gen[j->nspace++] = g;
			if (g > j->max_gen)
				j->max_gen = g;
		}
	}
}

static int build_index(jvm_sampler *j)
{
	struct hsperf_iter it;
	struct hsperf_entry e;
	int rc;

	j->freq = 0;
	j->ticks = j->safepoint_time = j->safepoints = j->threads = j->last_cause = NO_OFF;
	for (size_t i = 0; i < JVM_MAX_COLLECTORS; i++) {
		struct collector *k = &j->col[i];
		k->inv = k->time = k->entry = k->exit = NO_OFF;
	}
	j->ncol = j->nspace = 0;
	j->old_gen = j->max_gen = -1;
	hsperf_iter_init(&j->h, &it);
	while ((rc = hsperf_next(j->map, j->len, &j->h, &it, &e)) == 1)
		index_entry(j, &e);
	if (rc < 0)
		return rc;
	j->indexed_entries = j->h.num_entries;
	if (j->old_gen < 0)
		j->old_gen = j->max_gen;
	if (j->freq <= 0)
		j->freq = 1e9; /* HotSpot on Linux counts nanoseconds */
	return 0;
}

int jvm_sampler_open(const char *path, jvm_sampler **out, char *err, size_t errlen)
{
	struct stat st;
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return util_err(err, errlen, -errno, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size < HSPERF_PROLOGUE_SIZE || st.st_size > (1 << 30)) {
		close(fd);
		return util_err(err, errlen, -EINVAL, "%s: not a PerfData file (size)", path);
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (m == MAP_FAILED)
		return util_err(err, errlen, -e, "mmap %s: %s", path, strerror(e));
	jvm_sampler *j = xcalloc(1, sizeof(*j));
	j->map = m;
	j->len = (size_t)st.st_size;
	int rc = hsperf_parse_header(j->map, j->len, &j->h);
	if (rc == 0)
		rc = build_index(j);
	if (rc < 0) {
		jvm_sampler_free(j);
		return util_err(err, errlen, rc, "%s: %s", path,
				rc == -EAGAIN ? "the JVM has not finished initialising it"
					      : "not a PerfData 2.0 region");
	}
	*out = j;
	return 0;
}

void jvm_sampler_free(jvm_sampler *j)
{
	if (!j)
		return;
	if (j->map)
		munmap((void *)j->map, j->len);
	free(j);
}

static void set(struct proc_sample *out, enum metric_id id, double v)
{
	out->v[id] = v;
	out->valid |= METRIC_BIT(id);
}

/*
 * hound's own class histogram (the heap baseline) and heap dump make the
 * JVM collect; that pause must not fire the rules the baseline serves.
 * sun.gc.lastCause names the cause of the latest collection only, so only
 * that one (the collector that exited last) can be set aside.
 */
static bool caused_by_hound(const jvm_sampler *j)
{
	static const char *const causes[] = {"Heap Inspection Initiated GC", "Heap Dump Initiated GC"};
	if (j->last_cause == NO_OFF)
		return false;
	const char *c = (const char *)j->map + j->last_cause;
	for (size_t i = 0; i < ARRAY_LEN(causes); i++) {
		size_t n = strlen(causes[i]);
		if (n < j->last_cause_len && memcmp(c, causes[i], n) == 0 && c[n] == '\0')
			return true;
	}
	return false;
}

/* The collector that ran the latest collection since the last sample, when hound caused it; else -1. */
static int hound_collector(const jvm_sampler *j)
{
	int best = -1;
	int64_t best_exit = -1;
	if (!j->have_prev || !caused_by_hound(j))
		return -1;
	for (size_t i = 0; i < j->ncol; i++) {
		const struct collector *k = &j->col[i];
		int64_t exit = rd(j, k->exit);
		if (rd(j, k->inv) > k->prev_inv && exit > best_exit) {
			best_exit = exit;
			best = (int)i;
		}
	}
	return best;
}

/*
 * The longest pause among the collections since the last sample, and the
 * GC time they took (ticks, into *gc_ticks). The JVM keeps only the total
 * time and the last pause per collector, so with several collections in one
 * interval the pause is the larger of the last one and their mean: a lower
 * bound of the true maximum, exact for one. A collection still running
 * counts for the time it has run so far. The collection hound caused
 * (mine) is left out of both.
 */
static double pauses(jvm_sampler *j, int64_t now_ticks, int64_t window_ticks, int mine,
		     int64_t *gc_ticks)
{
	double longest = 0;
	*gc_ticks = 0;
	for (size_t i = 0; i < j->ncol; i++) {
		struct collector *k = &j->col[i];
		int64_t inv = rd(j, k->inv), t = rd(j, k->time);
		int64_t entry = rd(j, k->entry), exit = rd(j, k->exit);
		int64_t last = exit >= entry ? exit - entry : 0;
		int64_t dinv = j->have_prev ? inv - k->prev_inv : 0;
		int64_t dt = j->have_prev ? t - k->prev_time : t;
		double p = 0;
		if ((int)i == mine) {
			dinv--;
			dt -= last;
			last = 0;
		}
		if (!j->have_prev) {
			/* first sample: the last pause if it ended within one interval */
			if (inv > 0 && now_ticks - exit <= window_ticks)
				p = (double)last;
		} else if (dinv > 0) {
			double mean = (double)dt / (double)dinv;
			p = (double)last > mean ? (double)last : mean;
		}
		/*
		 * `time` grows only when a collection ends: one longer than the
		 * interval would read as no GC at all. Count the running part now
		 * and take it back from the total when it ends.
		 */
		int64_t running = entry > exit && now_ticks > entry ? now_ticks - entry : 0;
		if ((double)running > p)
			p = (double)running;
		if (p > longest)
			longest = p;
		dt += running - (j->have_prev ? k->prev_running : 0);
		*gc_ticks += dt > 0 ? dt : 0;
		k->prev_running = running;
		k->prev_time = t;
		k->prev_inv = inv;
	}
	return longest / j->freq;
}

int jvm_sampler_sample(jvm_sampler *j, int64_t mono_ms, struct proc_sample *out)
{
	/* entries are only appended; when there are new ones, resolve names again */
	struct hsperf_header h;
	if (hsperf_parse_header(j->map, j->len, &h) < 0)
		return -EINVAL;
	if (h.num_entries != j->indexed_entries) {
		j->h = h;
		if (build_index(j) < 0)
			return -EINVAL;
	}
	int64_t ticks = rd(j, j->ticks);
	int64_t dticks = j->have_prev ? ticks - j->prev_ticks : ticks;
	int64_t dwall = (int64_t)((double)(mono_ms - j->prev_mono_ms) * j->freq / 1000.0);
	/* the JVM's clock counter moves every 50 ms; if it has not, use hound's */
	if (dticks <= 0)
		dticks = j->have_prev ? dwall : 0;
	int64_t window = j->have_prev ? dwall : (int64_t)j->freq * 5;

	int64_t used = 0, old = 0;
	for (size_t i = 0; i < j->nspace; i++) {
		int64_t u = rd(j, j->space_used[i]);
		used += u;
		if (j->space_gen[i] == j->old_gen)
			old += u;
	}
	set(out, M_HEAP_INUSE, (double)used);
	set(out, M_HEAP_LIVE, (double)old);
	int64_t dgc;
	int mine = hound_collector(j);
	double pause = pauses(j, ticks, window > 0 ? window : dticks, mine, &dgc);
	uint64_t count = 0;
	for (size_t i = 0; i < j->ncol; i++)
		count += (uint64_t)rd(j, j->col[i].inv);
	set(out, M_GC_PAUSE, pause);
	if (dticks > 0) {
		double f = (double)dgc / (double)dticks;
		set(out, M_GC_CPU, 100.0 * (f < 0 ? 0 : f > 1 ? 1 : f));
	}
	int64_t sp = rd(j, j->safepoint_time);
	if (dticks > 0) {
		double d = (double)(j->have_prev ? sp - j->prev_safepoint_time : sp) / (double)dticks;
		j->view.safepoint_pct = 100.0 * (d < 0 ? 0 : d > 1 ? 1 : d);
	}
	j->view.safepoints = (uint64_t)rd(j, j->safepoints);
	j->view.threads = rd(j, j->threads);
	j->view.gc_count = count;
	j->prev_safepoint_time = sp;
	j->prev_ticks = ticks;
	j->prev_mono_ms = mono_ms;
	j->have_prev = true;
	return 0;
}

void jvm_sampler_view(const jvm_sampler *j, struct jvm_view *out)
{
	*out = j->view;
}
