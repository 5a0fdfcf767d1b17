/* locks: the `locks` capture kind, the lock wait-for graph as locks.txt. */
#include "capture/native/locks.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "capture/native/lockgraph.h"
#include "capture/native/symbolize.h"
#include "capture/native/unwind.h"
#include "lib/util.h"

/* Own frames shown per thread: the innermost and its caller. */
#define OWN_FRAMES 2

struct who {
	pid_t tid;
	char name[16];
	char func[160];
};

/* "fn", "module+0xSTART" for a stripped function, "module+0xOFFSET" outside any. */
static void frame_label(const struct sym_frame *f, char *buf, size_t len)
{
	if (sym_frame_name(f))
		snprintf(buf, len, "%s", sym_frame_name(f));
	else if (f->map)
		snprintf(buf, len, "%s+0x%" PRIx64, sym_module_basename(f->map), f->file_offset);
	else
		snprintf(buf, len, "0x%" PRIx64, f->pc);
}

/* The innermost own frames of one thread ("take_two < worker_ab"), "?" without a stack. */
static void own_function(const struct unwind_thread *t, sym_proc *sp, char *buf, size_t len)
{
	size_t used = 0;
	int shown = 0;
	char one[128];

	snprintf(buf, len, "?");
	if (!t || t->err || !sp)
		return;
	for (size_t k = 0; k < t->nframes && shown < OWN_FRAMES; k++) {
		struct sym_frame f;
		sym_proc_lookup(sp, t->ips[k], t->is_return[k], &f);
		if (!f.map || util_system_module(f.map->path, strlen(f.map->path)))
			continue;
		frame_label(&f, one, sizeof(one));
		int w = snprintf(buf + used, len - used, "%s%s", shown ? " < " : "", one);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
		shown++;
	}
	/* Only system frames (a thread parked in libc from its start): say where. */
	if (shown == 0 && t->nframes) {
		struct sym_frame f;
		sym_proc_lookup(sp, t->ips[0], t->is_return[0], &f);
		frame_label(&f, buf, len);
	}
}

static void fill_who(struct who *w, pid_t pid, pid_t tid, const struct unwind_result *res,
		     sym_proc *sp)
{
	const struct unwind_thread *t = NULL;
	char path[64];

	w->tid = tid;
	for (size_t i = 0; res && i < res->nthreads; i++)
		if (res->threads[i].tid == tid)
			t = &res->threads[i];
	if (t && t->name[0]) {
		snprintf(w->name, sizeof(w->name), "%s", t->name);
	} else {
		snprintf(path, sizeof(path), "task/%d/comm", (int)tid);
		char *c = util_read_proc_text(pid, path);
		snprintf(w->name, sizeof(w->name), "%s", c ? c : "?");
		w->name[strcspn(w->name, "\n")] = '\0';
		free(c);
	}
	own_function(t, sp, w->func, sizeof(w->func));
}

static void print_cycle(FILE *out, const struct lock_waiter *w, size_t n, size_t first)
{
	size_t len = 0;
	int id = w[first].cycle;
	for (size_t i = first; i < n && w[i].cycle == id; i++)
		len++;
	fprintf(out, "# deadlock: cycle %d, %zu thread%s:", id, len, len == 1 ? "" : "s");
	/* Follow the edges from the first member, so the order reads as the wait chain. */
	pid_t t = w[first].tid;
	for (size_t k = 0; k <= len; k++) {
		fprintf(out, " %s%d", k ? "-> " : "", (int)t);
		for (size_t i = first; i < first + len; i++)
			if (w[i].tid == t) {
				t = w[i].owner;
				break;
			}
	}
	fputc('\n', out);
}

int locks_dump(pid_t pid, FILE *out, char *err, size_t errlen)
{
	lockgraph *g = NULL;
	struct unwind_result res;
	sym_proc *sp = NULL;
	char uerr[256] = "", serr[256];
	size_t n, ncycles = 0;
	int rc = lockgraph_open(pid, &g);

	if (rc < 0)
		return util_err(err, errlen, rc, "opening /proc/%d/task: %s", (int)pid,
				strerror(-rc));
	/* The graph first, from outside: the unwind below must not change what it shows. */
	rc = lockgraph_scan(g, util_mono_ms(), err, errlen);
	if (rc < 0) {
		lockgraph_free(g);
		return rc;
	}
	const struct lock_waiter *w = lockgraph_waiters(g, &n);
	unwind_result_init(&res);
	if (n > 0) {
		if (sym_proc_open_flags(symbolizer_shared(), pid, 0, &sp, serr, sizeof(serr)) < 0) {
			sp = NULL;
			snprintf(uerr, sizeof(uerr), "%s", serr);
		}
		if (unwind_capture(pid, &res, serr, sizeof(serr)) < 0 && res.nok == 0)
			snprintf(uerr, sizeof(uerr), "%s", serr);
	}
	for (size_t i = 0; i < n; i++)
		if ((size_t)w[i].cycle > ncycles)
			ncycles = (size_t)w[i].cycle;
	fprintf(out, "# hound locks: PID %d, %zu threads, %zu waiting on a held lock, %zu in %zu "
		     "wait-for cycle%s\n",
		(int)pid, lockgraph_nthreads(g), n, lockgraph_deadlocked(g), ncycles,
		ncycles == 1 ? "" : "s");
	if (uerr[0])
		fprintf(out, "# functions unknown: %s\n", uerr);
	fprintf(out, "# STATE    TID (NAME) in FUNCTION  waits for LOCK  held by TID (NAME) in "
		     "FUNCTION\n");
	for (size_t i = 0; i < n; i++) {
		struct who a, b;
		if (w[i].cycle && (i == 0 || w[i - 1].cycle != w[i].cycle))
			print_cycle(out, w, n, i);
		if (!w[i].cycle && (i == 0 || w[i - 1].cycle))
			fprintf(out, "# waiting, not deadlocked:\n");
		fill_who(&a, pid, w[i].tid, &res, sp);
		fill_who(&b, pid, w[i].owner, &res, sp);
		char state[16];
		if (w[i].cycle)
			snprintf(state, sizeof(state), "cycle-%d", w[i].cycle);
		else
			snprintf(state, sizeof(state), "waiting");
		fprintf(out, "%-8s %d (%s) in %s  waits for 0x%" PRIx64 "  held by %d (%s) in %s%s\n",
			state, (int)a.tid, a.name, a.func, w[i].addr, (int)b.tid,
			w[i].owner_alive ? b.name : "exited", w[i].owner_alive ? b.func : "-",
			w[i].owner_alive ? "" : " (the owner is gone: the lock is never released)");
	}
	if (n == 0)
		fprintf(out, "# no thread waits on a held lock\n");
	sym_proc_free(sp);
	unwind_result_fini(&res);
	lockgraph_free(g);
	return 0;
}

int locks_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		  size_t errlen)
{
	char path[PATH_MAX];
	FILE *f;
	int rc;

	UNUSED(item);
	snprintf(path, sizeof(path), "%s/locks.txt", bundle_dir(ctx->bundle));
	f = fopen(path, "we");
	if (!f)
		return util_err(err, errlen, -errno, "open %s: %s", path, strerror(errno));
	rc = locks_dump(ctx->pid, f, err, errlen);
	if (fclose(f) != 0 && rc == 0)
		rc = util_err(err, errlen, -EIO, "write %s: %s", path, strerror(errno));
	if (rc < 0) {
		unlink(path);
		return rc;
	}
	bundle_add_file(ctx->bundle, "locks.txt", "locks", "text");
	return 0;
}
