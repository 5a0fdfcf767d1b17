/* stacks: every thread's stack of a native process, as eu-stack style text and as pprof. */
#include "capture/native/stacks.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "capture/native/symbolize.h"
#include "capture/native/unwind.h"
#include "lib/pprof.h"
#include "lib/util.h"

static void print_frame(FILE *out, size_t i, const struct sym_frame *f)
{
	/* A stripped function's start-name goes with the offset, where a symbol would not be. */
	bool named = f->function && f->function != f->cfi_function;

	fprintf(out, "#%-2zu 0x%016" PRIx64, i, f->pc);
	if (named)
		fprintf(out, " %s", f->function);
	if (!f->map)
		fprintf(out, " - ?\n");
	else if (named)
		fprintf(out, " - %s\n", f->map->path[0] ? f->map->path : "[anon]");
	else if (f->map->path[0] == '/')
		/*
		 * Enough to symbolize later, offline, against the same build; "in" names
		 * the function by its start (.eh_frame), which groups its instructions.
		 */
		fprintf(out, " - %s (offset 0x%" PRIx64 "%s%s%s%s)\n", f->map->path, f->file_offset,
			f->map->build_id[0] ? ", build-id " : "", f->map->build_id,
			f->cfi_function ? ", in " : "", f->cfi_function ? f->cfi_function : "");
	else
		fprintf(out, " - %s\n", f->map->path[0] ? f->map->path : "[anon]");
	if (f->file)
		fprintf(out, "    %s:%d\n", f->file, f->line);
}

/* The pprof mapping for each sym_map, filled on first use. */
struct map_table {
	const struct sym_map *maps;
	size_t n;
	struct pprof_map *pm;
	bool *set;
};

static const struct pprof_map *pprof_map_of(struct map_table *t, const struct sym_map *m)
{
	size_t i;
	if (!m || m->path[0] != '/')
		return NULL;
	i = (size_t)(m - t->maps);
	if (i >= t->n)
		return NULL;
	if (!t->set[i]) {
		t->pm[i] = (struct pprof_map){.start = m->start,
					      .limit = m->limit,
					      .offset = m->offset,
					      .file = m->path,
					      .build_id = m->build_id[0] ? m->build_id : NULL};
		t->set[i] = true;
	}
	return &t->pm[i];
}

static pprof_builder *new_profile(pid_t pid, int64_t wall_ns, int64_t duration_ns)
{
	pprof_builder *b = pprof_builder_new();
	char comment[64];

	pprof_add_sample_type(b, "threads", "count");
	pprof_set_period(b, "threads", "count", 1);
	pprof_set_time(b, wall_ns, duration_ns);
	snprintf(comment, sizeof(comment), "hound stacks of PID %d", (int)pid);
	pprof_add_comment(b, comment);
	return b;
}

/* Writes text and profile from an unwound result; the target runs again by now. */
static int emit(pid_t pid, const struct unwind_result *res, sym_proc *sp, FILE *text,
		pprof_builder *prof, struct stacks_stats *st)
{
	struct sym_frame *frames = xmalloc(UNWIND_MAX_FRAMES * sizeof(*frames));
	struct pprof_frame *pf = xmalloc(UNWIND_MAX_FRAMES * sizeof(*pf));
	struct map_table mt = {0};

	if (sp) {
		mt.maps = sym_proc_maps(sp, &mt.n);
		mt.pm = xcalloc(mt.n + 1, sizeof(*mt.pm));
		mt.set = xcalloc(mt.n + 1, sizeof(*mt.set));
		/*
		 * The main executable's text first (pprof treats mapping 1 as the
		 * binary); the lookup resolves its build-id.
		 */
		for (size_t i = 0; prof && i < mt.n; i++)
			if (mt.maps[i].perms[2] == 'x' && mt.maps[i].path[0] == '/') {
				struct sym_frame f;
				sym_proc_lookup(sp, mt.maps[i].start, false, &f);
				pprof_mapping_id(prof, pprof_map_of(&mt, &mt.maps[i]));
				break;
			}
	}
	if (text)
		fprintf(text, "PID %d - process\n", (int)pid);
	for (size_t i = 0; i < res->nthreads; i++) {
		const struct unwind_thread *t = &res->threads[i];
		if (text) {
			fprintf(text, "TID %d", (int)t->tid);
			if (t->name[0])
				fprintf(text, " (%s)", t->name);
			if (t->err)
				fprintf(text, ": error: %s\n", t->errmsg);
			else
				fprintf(text, ":\n");
		}
		if (t->err)
			continue;
		for (size_t k = 0; k < t->nframes; k++) {
			struct sym_frame *f = &frames[k];
			if (sp) {
				sym_proc_lookup(sp, t->ips[k], t->is_return[k], f);
			} else {
				memset(f, 0, sizeof(*f));
				f->pc = f->lookup_pc = t->ips[k];
			}
			if (text)
				print_frame(text, k, f);
			pf[k] = (struct pprof_frame){.address = t->ips[k],
						     .is_return = t->is_return[k],
						     .function = sym_frame_name(f),
						     .file = f->file,
						     .line = f->line,
						     .map = pprof_map_of(&mt, f->map)};
		}
		if (text && t->truncated)
			fprintf(text, "#%-2zu (truncated at %d frames)\n", t->nframes,
				UNWIND_MAX_FRAMES);
		st->nframes += t->nframes;
		if (prof && t->nframes) {
			int64_t one = 1;
			struct pprof_label labels[2] = {
			    {.key = "tid", .num = t->tid},
			    {.key = "thread", .str = t->name[0] ? t->name : "?"},
			};
			pprof_add_stack(prof, pf, t->nframes, &one, 1, labels, 2);
		}
	}
	free(mt.pm);
	free(mt.set);
	free(frames);
	free(pf);
	return 0;
}

int stacks_dump(pid_t pid, unsigned flags, FILE *text, const char *pprof_path,
		struct stacks_stats *stats, char *err, size_t errlen)
{
	struct stacks_stats local, *st = stats ? stats : &local;
	struct unwind_result res;
	sym_proc *sp = NULL;
	pprof_builder *prof = NULL;
	char serr[256];
	int64_t wall_ns = util_wall_ms() * 1000000, t1;
	unsigned sflags = (flags & STACKS_LINES) ? SYM_LINES : 0;
	int rc, src;

	memset(st, 0, sizeof(*st));
	unwind_result_init(&res);
	/* Maps first: the process may be gone after the pass. Failure is not fatal yet. */
	src = sym_proc_open_flags(symbolizer_shared(), pid, sflags, &sp, serr, sizeof(serr));
	rc = unwind_capture(pid, &res, err, errlen);
	t1 = util_mono_ns();
	st->nthreads = res.nthreads;
	st->nok = res.nok;
	st->unwind_ns = res.wall_ns;
	st->median_stop_ns = unwind_median_stop_ns(&res);
	for (size_t i = 0; i < res.nthreads; i++) {
		const struct unwind_thread *t = &res.threads[i];
		if (t->stop_ns > st->max_stop_ns)
			st->max_stop_ns = t->stop_ns;
		if (t->err == -ESRCH && t->tid == pid && util_proc_live_tid(pid) != pid)
			st->nthreads--; /* the main thread exited long before: not a lost thread */
		else if (t->err == -ESRCH)
			st->ngone++;
		else if (t->err && !st->first_err[0])
			snprintf(st->first_err, sizeof(st->first_err), "%s", t->errmsg);
	}
	if (rc < 0 && res.nok == 0)
		goto out;
	if (src < 0)
		src =
		    sym_proc_open_flags(symbolizer_shared(), pid, sflags, &sp, serr, sizeof(serr));
	if (pprof_path)
		prof = new_profile(pid, wall_ns, res.wall_ns);
	emit(pid, &res, src < 0 ? NULL : sp, text, prof, st);
	if (prof) {
		char perr[512];
		int prc = pprof_write_file(prof, pprof_path, perr, sizeof(perr));
		if (prc < 0 && rc == 0) {
			snprintf(err, errlen, "%s", perr);
			rc = prc;
		}
	}
	st->symbolize_ns = util_mono_ns() - t1;
out:
	pprof_builder_free(prof);
	sym_proc_free(sp);
	unwind_result_fini(&res);
	return rc;
}

/* Identity of the program pid runs (the inode /proc/PID/exe points to), to notice an exec. */
static bool exe_id(pid_t pid, struct stat *out)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	return stat(path, out) == 0;
}

/*
 * Some threads were not unwound although the capture as a whole worked: the
 * bundle must say it is partial (manifest errors), and why: threads exited
 * meanwhile, the process called exec (which ends every other thread), or
 * per-thread failures.
 */
static void note_partial(struct capture_ctx *ctx, const struct stacks_stats *st, bool execd)
{
	char why[320] = "";
	size_t n = 0, other = st->nthreads - st->nok - st->ngone;
	if (execd)
		n += (size_t)snprintf(why + n, sizeof(why) - n,
				      "; the process called exec during the capture, which ended its other threads");
	if (st->ngone && n < sizeof(why))
		n += (size_t)snprintf(why + n, sizeof(why) - n, "; %zu exited before they were reached",
				      st->ngone);
	if (other && n < sizeof(why))
		snprintf(why + n, sizeof(why) - n, "; %zu failed (%s)", other, st->first_err);
	bundle_add_error(ctx->bundle, "stacks", "partial capture: %zu of %zu threads unwound%s",
			 st->nok, st->nthreads, why);
}

int stacks_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		   size_t errlen)
{
	char tpath[PATH_MAX], ppath[PATH_MAX], note[160];
	struct stacks_stats st;
	FILE *text;
	int rc;

	UNUSED(item);
	snprintf(tpath, sizeof(tpath), "%s/stacks.txt", bundle_dir(ctx->bundle));
	snprintf(ppath, sizeof(ppath), "%s/stacks.pb.gz", bundle_dir(ctx->bundle));
	text = fopen(tpath, "we");
	if (!text) {
		rc = -errno;
		snprintf(err, errlen, "open %s: %s", tpath, strerror(errno));
		return rc;
	}
	struct stat exe0, exe1;
	bool have_exe = exe_id(ctx->pid, &exe0);
	rc = stacks_dump(ctx->pid, STACKS_LINES, text, ppath, &st, err, errlen);
	bool execd = have_exe && exe_id(ctx->pid, &exe1) &&
		     (exe0.st_ino != exe1.st_ino || exe0.st_dev != exe1.st_dev);
	if (fclose(text) != 0 && rc == 0) {
		rc = -EIO;
		snprintf(err, errlen, "write %s: %s", tpath, strerror(errno));
	}
	if (st.nok == 0) {
		/* Nothing captured: no files, only the error. */
		unlink(tpath);
		unlink(ppath);
		return rc < 0 ? rc : -EIO;
	}
	bundle_add_file(ctx->bundle, "stacks.txt", "stacks", "text");
	if (access(ppath, F_OK) == 0)
		bundle_add_file(ctx->bundle, "stacks.pb.gz", "stacks", "pprof");
	snprintf(note, sizeof(note), "%zu of %zu threads, median stop %lld us, max %lld us", st.nok,
		 st.nthreads, (long long)(st.median_stop_ns / 1000),
		 (long long)(st.max_stop_ns / 1000));
	bundle_add_note(ctx->bundle, "stacks", note);
	/* rc < 0 (the process exited midway) is recorded by the caller already. */
	if (rc == 0 && st.nok < st.nthreads)
		note_partial(ctx, &st, execd);
	return rc;
}
