/* mtrack_bpf: loads the malloc-tracking BPF object and attaches it to a process's allocator (libbpf). */
#include "capture/native/mtrack_bpf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#ifdef HAVE_BPF

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <stdarg.h>
#include <unistd.h>

#include "capture/native/bpf/mtrack.skel.h"
#include "lib/log.h"

struct mtrack_bpf {
	struct mtrack_skel *skel;
	struct ring_buffer *rb;
	pid_t pid;
	struct bpf_link **links;
	size_t nlinks;
	int ncpus;
	mtrack_event_fn fn;
	void *arg;
};

/* One allocator function and the programs that watch it (NULL: no return probe). */
struct probe {
	const char *func;
	size_t enter, leave; /* offsets of the programs in struct mtrack_skel's progs */
};

#define PROG(name) offsetof(struct mtrack_skel, progs.name)
#define NONE ((size_t)-1)

static const struct probe probes[] = {
    {"malloc", PROG(malloc_enter), PROG(malloc_leave)},
    {"calloc", PROG(calloc_enter), PROG(calloc_leave)},
    {"realloc", PROG(realloc_enter), PROG(realloc_leave)},
    {"reallocarray", PROG(reallocarray_enter), PROG(reallocarray_leave)},
    {"posix_memalign", PROG(posix_memalign_enter), PROG(posix_memalign_leave)},
    {"aligned_alloc", PROG(memalign_enter), PROG(memalign_leave)},
    {"memalign", PROG(memalign_enter), PROG(memalign_leave)},
    {"free", PROG(free_enter), NONE},
    {"mmap", PROG(mmap_enter), PROG(mmap_leave)},
    {"munmap", PROG(munmap_enter), NONE},
};

static struct bpf_program *prog_at(struct mtrack_skel *s, size_t off)
{
	return *(struct bpf_program **)((char *)s + off);
}

/* libbpf's own messages are details of a failure hound reports itself: debug level. */
static int print_cb(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	if (level == LIBBPF_DEBUG || !log_enabled(LOG_DEBUG))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	log_debug("libbpf", "msg=%s", line);
	return 0;
}

static void setup_print(void)
{
	libbpf_set_print(print_cb);
}

int mtrack_bpf_open(pid_t pid, const uint64_t *draws, mtrack_bpf **out, char *err,
		    size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct mtrack_bpf *m;
	int rc;

	*out = NULL;
	pthread_once(&once, setup_print);
	m = xcalloc(1, sizeof(*m));
	m->pid = pid;
	m->ncpus = libbpf_num_possible_cpus();
	m->skel = mtrack_skel__open();
	if (!m->skel) {
		rc = -errno;
		util_err(err, errlen, rc, "open the malloc-tracking BPF object: %s", strerror(-rc));
		goto fail;
	}
	m->skel->rodata->target_tgid = (__u32)pid;
	memcpy((void *)m->skel->rodata->exp_draws, draws, sizeof(uint64_t) * MTRACK_DRAWS);
	rc = mtrack_skel__load(m->skel);
	if (rc < 0) {
		rc = rc == -1 ? -errno : rc;
		util_err(err, errlen, rc, "bpf(BPF_PROG_LOAD) for malloc tracking: %s",
			 strerror(-rc));
		goto fail;
	}
	if (m->ncpus <= 0) {
		rc = m->ncpus ? m->ncpus : -EINVAL;
		util_err(err, errlen, rc, "possible CPUs: %s", strerror(-rc));
		goto fail;
	}
	*out = m;
	return 0;
fail:
	mtrack_bpf_free(m);
	return rc;
}

void mtrack_bpf_free(mtrack_bpf *m)
{
	if (!m)
		return;
	ring_buffer__free(m->rb);
	for (size_t i = 0; i < m->nlinks; i++)
		bpf_link__destroy(m->links[i]);
	free(m->links);
	mtrack_skel__destroy(m->skel);
	free(m);
}

const char *mtrack_bpf_func(size_t i)
{
	return i < ARRAY_LEN(probes) ? probes[i].func : NULL;
}

static int attach_one(mtrack_bpf *m, size_t prog, bool ret, const char *path, uint64_t off)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = ret);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(prog_at(m->skel, prog), m->pid, path,
							     (size_t)off, &o);

	if (!l)
		return errno ? -errno : -EINVAL;
	m->links = xrealloc(m->links, (m->nlinks + 1) * sizeof(*m->links));
	m->links[m->nlinks++] = l;
	return 0;
}

int mtrack_bpf_attach(mtrack_bpf *m, const char *path, const char *func, uint64_t off,
		      char *err, size_t errlen)
{
	const struct probe *p = NULL;
	int rc;

	for (size_t i = 0; i < ARRAY_LEN(probes) && !p; i++)
		if (strcmp(probes[i].func, func) == 0)
			p = &probes[i];
	if (!p)
		return util_err(err, errlen, -ENOENT, "no probe for %s", func);
	/*
	 * The return probe first: a call whose entry was counted must have its
	 * return seen, or its thread's depth stays above zero and every later
	 * allocation there looks nested (uncounted). A call already running
	 * when the entry probe arrives returns to a depth of zero, which stays 0.
	 */
	rc = p->leave != NONE ? attach_one(m, p->leave, true, path, off) : 0;
	if (rc == 0)
		rc = attach_one(m, p->enter, false, path, off);
	if (rc < 0)
		return util_err(err, errlen, rc, "perf_event_open(uprobe %s at 0x%llx in %s, pid %d): %s",
				func, (unsigned long long)off, path, (int)m->pid, strerror(-rc));
	return 0;
}

void mtrack_bpf_set_tracking(mtrack_bpf *m, bool on)
{
	__atomic_store_n(&m->skel->bss->tracking, on ? 1u : 0u, __ATOMIC_RELEASE);
}

void mtrack_bpf_counts(mtrack_bpf *m, struct mtrack_bpf_counts *out)
{
	struct mtrack_cpu *v = xcalloc((size_t)m->ncpus, sizeof(*v));
	__u32 zero = 0;

	memset(out, 0, sizeof(*out));
	if (bpf_map__lookup_elem(m->skel->maps.cpu_state, &zero, sizeof(zero), v,
				 sizeof(*v) * (size_t)m->ncpus, 0) == 0) {
		for (int i = 0; i < m->ncpus; i++) {
			out->alloc_calls += v[i].alloc_calls;
			out->free_calls += v[i].free_calls;
			out->sampled += v[i].sampled;
			out->ring_full += v[i].ring_full;
			out->live_full += v[i].live_full;
		}
	}
	free(v);
}

static int ring_cb(void *ctx, void *data, size_t size)
{
	mtrack_bpf *m = ctx;

	if (size >= sizeof(struct mtrack_event))
		m->fn(data, m->arg);
	return 0;
}

int mtrack_bpf_poll(mtrack_bpf *m, int timeout_ms, mtrack_event_fn fn, void *arg)
{
	m->fn = fn;
	m->arg = arg;
	if (!m->rb) {
		m->rb = ring_buffer__new(bpf_map__fd(m->skel->maps.events), ring_cb, m, NULL);
		if (!m->rb)
			return errno ? -errno : -ENOMEM;
	}
	return ring_buffer__poll(m->rb, timeout_ms);
}

int mtrack_bpf_live(mtrack_bpf *m, mtrack_live_fn fn, void *arg)
{
	const struct bpf_map *map = m->skel->maps.live;
	uint64_t key, next;
	struct mtrack_live v;
	int n = 0;
	bool first = true;

	while (bpf_map__get_next_key(map, first ? NULL : &key, &next, sizeof(next)) == 0) {
		first = false;
		key = next;
		if (bpf_map__lookup_elem(map, &key, sizeof(key), &v, sizeof(v), 0) == 0) {
			fn(key, v.size, v.id, arg);
			n++;
		}
	}
	return n;
}

#else /* !HAVE_BPF */

struct mtrack_bpf {
	int unused;
};

int mtrack_bpf_open(pid_t pid, const uint64_t *draws, mtrack_bpf **out, char *err,
		    size_t errlen)
{
	UNUSED(pid);
	UNUSED(draws);
	*out = NULL;
	return util_err(err, errlen, -ENOSYS,
			"hound was built without eBPF (libbpf, bpftool and clang at build time)");
}

void mtrack_bpf_free(mtrack_bpf *m)
{
	UNUSED(m);
}

const char *mtrack_bpf_func(size_t i)
{
	UNUSED(i);
	return NULL;
}

int mtrack_bpf_attach(mtrack_bpf *m, const char *path, const char *func, uint64_t off,
		      char *err, size_t errlen)
{
	UNUSED(m);
	UNUSED(path);
	UNUSED(func);
	UNUSED(off);
	return util_err(err, errlen, -ENOSYS, "hound was built without eBPF");
}

void mtrack_bpf_set_tracking(mtrack_bpf *m, bool on)
{
	UNUSED(m);
	UNUSED(on);
}

void mtrack_bpf_counts(mtrack_bpf *m, struct mtrack_bpf_counts *out)
{
	UNUSED(m);
	memset(out, 0, sizeof(*out));
}

int mtrack_bpf_poll(mtrack_bpf *m, int timeout_ms, mtrack_event_fn fn, void *arg)
{
	UNUSED(m);
	UNUSED(timeout_ms);
	UNUSED(fn);
	UNUSED(arg);
	return -ENOSYS;
}

int mtrack_bpf_live(mtrack_bpf *m, mtrack_live_fn fn, void *arg)
{
	UNUSED(m);
	UNUSED(fn);
	UNUSED(arg);
	return -ENOSYS;
}

#endif
