/* agent_view: read-only views of the agent for the API: targets, captures, health. */
#include "agent/agent_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle/bundle_read.h"
#include "bundle/spool.h"
#include "lib/fdbudget.h"
#include "lib/util.h"

/*
 * Everything here runs on an API thread. The agent lock is held only while
 * copying state into the writer: no file is read and no syscall made under
 * it, so the sampling loop waits at most for one JSON serialisation.
 */

bool agent_healthy(agent *a, int64_t *age_ms)
{
	pthread_mutex_lock(&a->lock);
	int64_t last = a->last_tick_mono_ms, interval = a->cfg->interval_ms;
	uint64_t ticks = a->ticks;
	pthread_mutex_unlock(&a->lock);
	int64_t age = util_mono_ms() - last;
	if (age_ms)
		*age_ms = ticks ? age : -1;
	return ticks > 0 && age <= 3 * interval;
}

static const char *trigger_name(enum trigger_kind k)
{
	switch (k) {
	case TRIGGER_RULE:
		return "rule";
	case TRIGGER_API:
		return "api";
	case TRIGGER_ALERT:
		return "alert";
	case TRIGGER_MANUAL:
		return "manual";
	}
	return "unknown";
}

static void write_capture_list(struct json_writer *w, const struct capture_list *l)
{
	json_arr_begin(w);
	for (size_t i = 0; i < l->n; i++) {
		const struct capture_item *it = &l->items[i];
		if (it->kind == K_COMMAND) {
			json_obj_begin(w);
			json_key(w, "command");
			json_arr_begin(w);
			for (char **a = it->argv; a && *a; a++)
				json_str(w, *a);
			json_arr_end(w);
			json_kv_int(w, "timeout_ms", it->timeout_ms);
			json_obj_end(w);
		} else if (capture_kind_has_duration(it->kind)) {
			json_obj_begin(w);
			json_kv_int(w, capture_kind_name(it->kind), it->duration_ms);
			json_obj_end(w);
		} else {
			json_str(w, capture_kind_name(it->kind));
		}
	}
	json_arr_end(w);
}

static void write_rule_conf(struct json_writer *w, const struct rule_conf *r, uint64_t firings)
{
	json_obj_begin(w);
	json_kv_str(w, "name", r->name);
	json_kv_str(w, "metric", metric_info(r->metric)->name);
	if (r->own.query)
		json_kv_str(w, "series", r->own.query);
	if (r->has_below)
		json_kv_double(w, "below", r->below);
	if (r->has_stalled)
		json_kv_int(w, "stalled_ms", r->stalled_ms);
	if (r->has_min)
		json_kv_double(w, "min", r->min);
	if (r->has_diff)
		json_kv_double(w, "diff", r->diff);
	if (r->has_abs)
		json_kv_double(w, "abs", r->abs);
	if (r->has_trend) {
		json_kv_int(w, "trend_window_ms", r->trend_window_ms);
		json_kv_double(w, "trend_slope_per_s", r->trend_slope);
	}
	if (r->has_forecast)
		json_kv_int(w, "forecast_ms", r->forecast_ms);
	json_kv_int(w, "for", r->for_n);
	json_kv_int(w, "cooldown_ms", r->cooldown_ms);
	json_key(w, "capture");
	write_capture_list(w, &r->capture);
	json_kv_int(w, "firings", (int64_t)firings);
	json_obj_end(w);
}

static void write_rule_state(struct json_writer *w, const struct rule_conf *r,
			     const struct rule_state *st, const struct rule_verdict *v, int64_t now)
{
	int64_t left = 0;
	if (st->fired && now - st->last_fire_ms < r->cooldown_ms)
		left = r->cooldown_ms - (now - st->last_fire_ms);
	json_obj_begin(w);
	json_kv_str(w, "rule", r->name);
	json_kv_int(w, "streak", st->streak);
	json_kv_bool(w, "cooling", left > 0);
	json_kv_int(w, "cooldown_left_ms", left);
	json_kv_bool(w, "warming", v->warming);
	json_kv_bool(w, "condition_held", v->cond);
	json_kv_str(w, "condition", v->condition);
	json_kv_double(w, "value", v->value);
	json_kv_double(w, "avg", v->avg);
	json_kv_double(w, "threshold", v->threshold);
	json_kv_str(w, "verdict", v->reason);
	json_obj_end(w);
}

/* The JVM beside the metrics: what the PerfData says that no rule reads, or why there is none. */
static void write_jvm(struct json_writer *w, const struct tproc *p)
{
	json_key(w, "jvm");
	json_obj_begin(w);
	json_kv_bool(w, "perfdata", p->jvm != NULL);
	if (p->jvm) {
		struct jvm_view v;
		jvm_sampler_view(p->jvm, &v);
		json_kv_str(w, "gc", v.gc);
		json_kv_str(w, "version", v.version);
		json_kv_int(w, "threads", v.threads);
		json_kv_double(w, "safepoint_pct", v.safepoint_pct);
		json_kv_int(w, "safepoints", (int64_t)v.safepoints);
		json_kv_int(w, "gc_count", (int64_t)v.gc_count);
	} else {
		json_kv_str(w, "status", p->jvm_status);
	}
	json_obj_end(w);
}

static void write_proc(struct json_writer *w, const struct target_conf *t, const struct tproc *p,
		       int64_t now)
{
	char ts[40];
	json_obj_begin(w);
	json_kv_int(w, "pid", p->pid);
	json_kv_str(w, "comm", p->comm);
	json_kv_str(w, "cmdline", p->cmdline);
	util_fmt_time(p->start_wall_ms, ts, sizeof(ts));
	json_kv_str(w, "started_at", ts);
	json_kv_int(w, "start_ticks", (int64_t)p->start_ticks);
	json_kv_int(w, "samples", (int64_t)p->nsamples);
	json_kv_bool(w, "warm", p->warm);
	json_kv_bool(w, "capturing", p->capturing);
	if (t->go_url)
		json_kv_str(w, "go_error", p->go_error);
	if (p->locks_error)
		json_kv_str(w, "locks_error", p->locks_error);
	if (p->own_error)
		json_kv_str(w, "series_error", p->own_error);
	if (p->jvm_state == TPROC_JVM_PERF || p->jvm_state == TPROC_JVM_NO_PERF)
		write_jvm(w, p);
	json_key(w, "metrics");
	json_obj_begin(w);
	for (int m = 0; m < M_COUNT; m++) {
		if (!(t->metric_mask & METRIC_BIT(m)))
			continue;
		json_key(w, metric_info((enum metric_id)m)->name);
		if (p->last.valid & METRIC_BIT(m))
			json_double(w, p->last.v[m]);
		else
			json_null(w);
	}
	/* The target's own series, under the selector or path the rule names. */
	for (size_t i = 0; p->own_v && i < t->nrules && i < p->nrules; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup && t->rules[i].own.query; j++)
			dup = t->rules[j].own.query && !strcmp(t->rules[j].own.query, t->rules[i].own.query);
		if (!t->rules[i].own.query || dup)
			continue;
		json_key(w, t->rules[i].own.query);
		if (p->own_valid[i])
			json_double(w, p->own_v[i]);
		else
			json_null(w);
	}
	json_obj_end(w);
	json_key(w, "rules");
	json_arr_begin(w);
	for (size_t i = 0; i < t->nrules && i < p->nrules; i++)
		write_rule_state(w, &t->rules[i], &p->rs[i], &p->verdicts[i], now);
	json_arr_end(w);
	json_obj_end(w);
}

static int limit_used(const struct limit_state *l, int64_t window_ms, int64_t now)
{
	int n = 0;
	for (int i = 0; i < l->n; i++)
		if (l->times[i] > now - window_ms)
			n++;
	return n;
}

void agent_write_targets_json(agent *a, struct json_writer *w)
{
	int64_t now = util_mono_ms();
	char ts[40];

	pthread_mutex_lock(&a->lock);
	json_obj_begin(w);
	util_fmt_time(util_wall_ms(), ts, sizeof(ts));
	json_kv_str(w, "now", ts);
	json_kv_int(w, "interval_ms", a->cfg->interval_ms);
	json_kv_int(w, "history", a->cfg->history);
	json_kv_int(w, "ticks", (int64_t)a->ticks);
	json_kv_int(w, "last_tick_age_ms", a->ticks ? now - a->last_tick_mono_ms : -1);
	struct fdbudget_stats fb;
	fdbudget_get(&fb);
	json_key(w, "fds");
	json_obj_begin(w);
	json_kv_int(w, "limit", fb.limit);
	json_kv_int(w, "kept", fb.kept);
	json_kv_int(w, "kept_max", fb.budget);
	json_kv_int(w, "reserve", fb.reserve);
	/* processes sampled with open/read/close: slower, still sampled */
	json_kv_int(w, "degraded_processes", fb.degraded);
	json_obj_end(w);
	json_key(w, "targets");
	json_arr_begin(w);
	for (size_t i = 0; i < a->nts; i++) {
		const struct tstate *t = &a->ts[i];
		const struct target_conf *c = t->conf;
		json_obj_begin(w);
		json_kv_str(w, "name", c->name);
		json_kv_str(w, "go_url", c->go_url);
		json_key(w, "limits");
		json_obj_begin(w);
		json_kv_int(w, "max_captures", c->max_captures);
		json_kv_int(w, "window_ms", c->limit_window_ms);
		json_kv_int(w, "used", limit_used(&t->limits, c->limit_window_ms, now));
		json_obj_end(w);
		json_key(w, "captures");
		json_obj_begin(w);
		json_kv_int(w, "ok", (int64_t)t->captures_ok);
		json_kv_int(w, "failed", (int64_t)t->captures_failed);
		json_obj_end(w);
		json_key(w, "refused");
		json_obj_begin(w);
		for (int r = REFUSE_NONE + 1; r <= REFUSE_BAD_KIND; r++)
			if (t->refused[r])
				json_kv_int(w, agent_refusal_name((enum agent_refusal)r),
					    (int64_t)t->refused[r]);
		json_obj_end(w);
		json_key(w, "rules");
		json_arr_begin(w);
		for (size_t r = 0; r < c->nrules; r++)
			write_rule_conf(w, &c->rules[r], t->firings[r]);
		json_arr_end(w);
		json_key(w, "processes");
		json_arr_begin(w);
		for (size_t j = 0; j < t->nprocs; j++)
			write_proc(w, c, t->procs[j], now);
		json_arr_end(w);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_obj_end(w);
	pthread_mutex_unlock(&a->lock);
}

static const char *upload_state(const char *dir, bool upload_enabled)
{
	struct stat st;
	if (!dir[0] || stat(dir, &st) < 0)
		return "deleted";
	if (!upload_enabled)
		return "local";
	switch (spool_bundle_state(dir)) {
	case SPOOL_UPLOADED:
		return "uploaded";
	case SPOOL_PARTIAL:
		return "uploading";
	default:
		return "pending";
	}
}

/* One line of GET /v1/captures, from the agent's memory or from the spool. */
struct capture_row {
	char id[256];
	char target[128];
	char *dir;                    /* owned */
	pid_t pid;
	char trigger[16];
	char finished_at[40];
	bool ok;
	int nerrors;
};

static int cmp_row_newest_first(const void *x, const void *y)
{
	const struct capture_row *a = x, *b = y;
	int c = strcmp(b->id, a->id); /* IDs start with the UTC time */
	return c ? c : strcmp(b->target, a->target);
}

static bool have_row(const struct capture_row *rows, size_t n, const char *target, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].id, id) && !strcmp(rows[i].target, target))
			return true;
	return false;
}

/*
 * Bundles in the spool that this run did not write (an earlier run's, still
 * queued or kept): newest first, at most `room` of them, each summarised from
 * its manifest.
 */
static size_t add_spool_rows(const char *output, struct capture_row *rows, size_t n, size_t room)
{
	struct spool_entry *e = NULL;
	size_t ne = 0, added = 0, known = n;
	if (spool_list(output, &e, &ne) < 0)
		return n;
	for (size_t k = ne; k-- > 0 && added < room;) {
		struct bundle_summary sum;
		if (have_row(rows, known, e[k].target, e[k].id) || bundle_summary_read(e[k].dir, &sum) < 0)
			continue;
		struct capture_row *r = &rows[n++];
		added++;
		snprintf(r->id, sizeof(r->id), "%s", e[k].id);
		snprintf(r->target, sizeof(r->target), "%s", e[k].target);
		r->dir = xstrdup(e[k].dir);
		r->pid = sum.pid;
		snprintf(r->trigger, sizeof(r->trigger), "%s", sum.trigger);
		snprintf(r->finished_at, sizeof(r->finished_at), "%s", sum.finished_at);
		r->ok = true;
		r->nerrors = sum.nerrors;
	}
	spool_list_free(e, ne);
	return n;
}

void agent_write_captures_json(agent *a, struct json_writer *w)
{
	struct capture_row *rows = xcalloc(2 * RECENT_MAX, sizeof(*rows));
	size_t n = 0;

	/* Copies only under the lock; the spool is read after it is released. */
	pthread_mutex_lock(&a->lock);
	bool upload = a->cfg->upload.enabled;
	char *output = xstrdup(a->cfg->output);
	for (size_t k = 0; k < a->nrecent; k++) {
		const struct recent_bundle *b = &a->recent[(a->recent_head + RECENT_MAX - 1 - k) % RECENT_MAX];
		struct capture_row *r = &rows[n++];
		snprintf(r->id, sizeof(r->id), "%s", b->id);
		snprintf(r->target, sizeof(r->target), "%s", b->target);
		r->dir = xstrdup(b->dir);
		r->pid = b->pid;
		snprintf(r->trigger, sizeof(r->trigger), "%s", trigger_name(b->trigger));
		util_fmt_time(b->finished_wall_ms, r->finished_at, sizeof(r->finished_at));
		r->ok = b->rc == 0;
		r->nerrors = b->nerrors;
	}
	pthread_mutex_unlock(&a->lock);

	n = add_spool_rows(output, rows, n, RECENT_MAX);
	qsort(rows, n, sizeof(*rows), cmp_row_newest_first);
	json_obj_begin(w);
	json_key(w, "captures");
	json_arr_begin(w);
	for (size_t i = 0; i < n && i < RECENT_MAX; i++) {
		const struct capture_row *r = &rows[i];
		json_obj_begin(w);
		json_kv_str(w, "id", r->id);
		json_kv_str(w, "target", r->target);
		json_kv_int(w, "pid", r->pid);
		json_kv_str(w, "trigger", r->trigger);
		json_kv_str(w, "finished_at", r->finished_at);
		json_kv_bool(w, "ok", r->ok);
		json_kv_int(w, "errors", r->nerrors);
		json_kv_str(w, "dir", r->ok ? r->dir : NULL);
		json_kv_str(w, "upload", r->ok ? upload_state(r->dir, upload) : "none");
		json_obj_end(w);
	}
	json_arr_end(w);
	json_obj_end(w);
	for (size_t i = 0; i < n; i++)
		free(rows[i].dir);
	free(rows);
	free(output);
}

int agent_find_bundle(agent *a, const char *id, struct agent_bundle_loc *loc)
{
	char root[4096];
	struct stat st;
	int rc = -ENOENT;

	memset(loc, 0, sizeof(*loc));
	size_t n = strlen(id);
	if (!bundle_name_ok(id) || (n > 4 && !strcmp(id + n - 4, ".tmp")))
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	bool upload = a->cfg->upload.enabled;
	bool ok = util_snprintf(root, sizeof(root), "%s/bundles", a->cfg->output);
	pthread_mutex_unlock(&a->lock);
	DIR *d = ok ? opendir(root) : NULL;
	if (!d)
		return -ENOENT;
	/* one folder per target: a handful of stats, no listing of the bundles */
	for (struct dirent *e; rc < 0 && (e = readdir(d));) {
		if (!bundle_name_ok(e->d_name))
			continue;
		for (int tmp = 0; tmp < 2 && rc < 0; tmp++) {
			if (!util_snprintf(loc->dir, sizeof(loc->dir), "%s/%s/%s%s", root, e->d_name, id,
					   tmp ? ".tmp" : "") ||
			    stat(loc->dir, &st) < 0 || !S_ISDIR(st.st_mode))
				continue;
			util_snprintf(loc->target, sizeof(loc->target), "%s", e->d_name);
			loc->complete = !tmp;
			loc->state = tmp ? "capturing" : upload_state(loc->dir, upload);
			rc = 0;
		}
	}
	closedir(d);
	if (rc < 0)
		loc->dir[0] = '\0';
	return rc;
}
