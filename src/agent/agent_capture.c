/* agent_capture: from a rule firing, API call or alert to a queued capture job. */
#include "agent/agent_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/spool.h"
#include "bundle/uploader.h"
#include "capture/capture.h"
#include "capture/go/gocapture.h"
#include "capture/jvm/jvmcapture.h"
#include "capture/native/flightrec.h"
#include "capture/native/heapnative.h"
#include "lib/log.h"
#include "lib/util.h"

#define HISTORY_EXPORT_MAX 1000

const char *agent_refusal_name(enum agent_refusal r)
{
	static const char *const names[] = {
		[REFUSE_NONE] = "none",
		[REFUSE_UNKNOWN_TARGET] = "unknown_target",
		[REFUSE_NO_PROCESS] = "no_process",
		[REFUSE_LIMIT] = "limit",
		[REFUSE_COOLDOWN] = "cooldown",
		[REFUSE_BUSY] = "busy",
		[REFUSE_DISK] = "disk",
		[REFUSE_QUEUE] = "queue_full",
		[REFUSE_BAD_KIND] = "bad_kind",
	};
	return (unsigned)r < ARRAY_LEN(names) ? names[r] : "unknown";
}

/* What the worker needs to report a finished job back to the agent. */
struct job_task {
	agent *a;
	struct capture_job *job;
	uint64_t start_ticks;
};

static struct tproc *lookup(agent *a, const char *target, pid_t pid, uint64_t start)
{
	struct tstate *ts = agent_find_ts(a, target);
	if (!ts)
		return NULL;
	for (size_t i = 0; i < ts->nprocs; i++)
		if (ts->procs[i]->pid == pid && ts->procs[i]->start_ticks == start)
			return ts->procs[i];
	return NULL;
}

static void record_recent(agent *a, const struct capture_job *job, int rc)
{
	struct recent_bundle *r = &a->recent[a->recent_head];
	a->recent_head = (a->recent_head + 1) % RECENT_MAX;
	if (a->nrecent < RECENT_MAX)
		a->nrecent++;
	free(r->dir);
	memset(r, 0, sizeof(*r));
	r->dir = xstrdup(job->final_dir);
	snprintf(r->id, sizeof(r->id), "%s", job->id);
	snprintf(r->target, sizeof(r->target), "%s", job->target);
	r->pid = job->proc.pid;
	r->trigger = job->trig.kind;
	r->finished_wall_ms = util_wall_ms();
	r->rc = rc;
	r->nerrors = job->nerrors;
}

static void job_run(void *arg, volatile sig_atomic_t *stop)
{
	struct job_task *t = arg;
	struct capture_job *job = t->job;
	agent *a = t->a;
	int rc = capture_job_run(job, stop);

	if (rc == 0)
		log_info("bundle written", "target=%s pid=%d rule=%s bundle=%s dir=%s errors=%d",
			 job->target, (int)job->proc.pid, job->trig.rule ? job->trig.rule : "-", job->id,
			 job->final_dir, job->nerrors);
	pthread_mutex_lock(&a->lock);
	struct tproc *p = lookup(a, job->target, job->proc.pid, t->start_ticks);
	if (p)
		p->capturing = false;
	struct tstate *ts = agent_find_ts(a, job->target);
	if (ts) {
		if (rc == 0)
			ts->captures_ok++;
		else
			ts->captures_failed++;
	}
	if (rc == 0)
		a->capture_jobs_ok++;
	else
		a->capture_jobs_failed++;
	for (size_t i = 0; i < job->items.n; i++) {
		enum capture_kind k = job->items.items[i].kind;
		bool failed = rc < 0 || (job->nerrors > 0);
		a->captures_by_kind[k][failed ? 1 : 0]++;
	}
	record_recent(a, job, rc);
	if (rc == 0 && a->up)
		uploader_kick(a->up);
	pthread_mutex_unlock(&a->lock);
	capture_job_free(job);
	free(t);
}

static void job_dispose(void *arg)
{
	struct job_task *t = arg;
	log_warn("capture dropped at shutdown", "target=%s pid=%d bundle=%s", t->job->target,
		 (int)t->job->proc.pid, t->job->id);
	pthread_mutex_lock(&t->a->lock);
	struct tproc *p = lookup(t->a, t->job->target, t->job->proc.pid, t->start_ticks);
	if (p)
		p->capturing = false;
	pthread_mutex_unlock(&t->a->lock);
	capture_job_free(t->job);
	free(t);
}

#define DISK_BACKOFF_MIN_MS 1000
#define DISK_BACKOFF_MAX_MS 10000

/*
 * Room for one more bundle (max_disk and the filesystem's free space),
 * checked before any process is stopped: a capture on a full disk would
 * stop the target for a bundle that cannot be written. While full, the
 * check itself backs off (1 s doubling to 10 s) and every firing is refused.
 */
static bool disk_admit(agent *a, int64_t mono_ms)
{
	if (a->disk_full && mono_ms < a->disk_retry_mono_ms)
		return false;
	int64_t avail = -1;
	int rc = spool_admit(a->cfg->output, a->cfg->max_disk, a->cfg->upload.enabled, &avail);
	a->disk_avail_bytes = avail;
	if (rc == 0) {
		if (a->disk_full)
			log_info("spool has room again: captures resume", "output=%s available_bytes=%lld",
				 a->cfg->output, (long long)avail);
		a->disk_full = false;
		a->disk_backoff_ms = 0;
		return true;
	}
	a->disk_backoff_ms = a->disk_backoff_ms ? a->disk_backoff_ms * 2 : DISK_BACKOFF_MIN_MS;
	if (a->disk_backoff_ms > DISK_BACKOFF_MAX_MS)
		a->disk_backoff_ms = DISK_BACKOFF_MAX_MS;
	a->disk_retry_mono_ms = mono_ms + a->disk_backoff_ms;
	if (!a->disk_full) {
		a->disk_full_episodes++;
		if (rc == -EDQUOT)
			log_error("spool over max_disk with bundles not yet uploaded: captures refused until it shrinks",
				  "output=%s max_disk=%llu", a->cfg->output, (unsigned long long)a->cfg->max_disk);
		else
			log_error("spool filesystem full: captures refused until space is freed",
				  "output=%s available_bytes=%lld", a->cfg->output, (long long)avail);
	}
	a->disk_full = true;
	return false;
}

enum agent_refusal agent_admit(agent *a, struct tstate *ts, struct tproc *p, int64_t mono_ms)
{
	if (p->capturing)
		return REFUSE_BUSY;
	if (!limit_allow(&ts->limits, ts->conf->max_captures, ts->conf->limit_window_ms, mono_ms))
		return REFUSE_LIMIT;
	if (!disk_admit(a, mono_ms))
		return REFUSE_DISK;
	return REFUSE_NONE;
}

/* Builds the job for process p (caller holds the lock). */
static struct capture_job *make_job(agent *a, struct tstate *ts, struct tproc *p,
				    const struct capture_list *items)
{
	char parent[4096];
	snprintf(parent, sizeof(parent), "%s/bundles/%s", a->cfg->output, ts->conf->name);
	struct capture_job *job = capture_job_new(ts->conf->name, parent);
	capture_list_copy(&job->items, items);
	if (ts->conf->go_url)
		job->go_url = xstrdup(ts->conf->go_url);
	job->jvm_off = ts->conf->jvm_off;
	job->malloc = ts->conf->malloc;
	if (p->baseline_mono_ms > 0)
		job->baseline_dir = xstrdup(p->baseline_dir);
	if (p->flight) {
		job->flight = flightrec_ref(p->flight);
		job->flight_until_mono_ms = util_mono_ms();
	}
	job->proc.pid = p->pid;
	job->proc.start_ticks = p->start_ticks;
	job->proc.start_wall_ms = p->start_wall_ms;
	job->proc.comm = p->comm ? xstrdup(p->comm) : NULL;
	job->proc.cmdline = p->cmdline ? xstrdup(p->cmdline) : NULL;
	job->proc.exe = p->exe ? xstrdup(p->exe) : NULL;
	job->proc.cgroup = p->cgroup ? xstrdup(p->cgroup) : NULL;
	capture_job_set_labels(job, a->cfg->labels, a->cfg->nlabels);
	if (a->cfg->max_disk) {
		int64_t used = spool_usage(a->cfg->output);
		job->disk_left = used >= 0 && (uint64_t)used < a->cfg->max_disk ? a->cfg->max_disk - (uint64_t)used : 1;
	}
	return job;
}

/* Queues job for p; on success copies the bundle ID into id (256 bytes) before the worker can free it. */
/*
 * A core dump is large and freezes the target for a moment: limits.max_cores
 * per window bounds them apart from the other kinds. Over the limit the core
 * item is dropped from the job and the bundle says why.
 */
static void admit_core(struct tstate *ts, struct capture_job *job, int64_t mono)
{
	struct capture_list *l = &job->items;
	for (size_t i = 0; i < l->n; i++) {
		if (l->items[i].kind != K_CORE)
			continue;
		if (limit_allow(&ts->core_limits, ts->conf->max_cores, ts->conf->limit_window_ms, mono)) {
			limit_record(&ts->core_limits, mono);
			return;
		}
		memmove(&l->items[i], &l->items[i + 1], (l->n - i - 1) * sizeof(*l->items));
		l->n--;
		bundle_add_error(job->bundle, "core", "refused: limits.max_cores (%d per %lld s) reached",
				 ts->conf->max_cores, (long long)(ts->conf->limit_window_ms / 1000));
		return;
	}
}

static int submit(agent *a, struct tstate *ts, struct tproc *p, struct capture_job *job, int64_t mono,
		  char *id)
{
	if (capture_job_open(job) < 0) {
		capture_job_free(job);
		return -EIO;
	}
	admit_core(ts, job, mono);
	struct job_task *t = xcalloc(1, sizeof(*t));
	t->a = a;
	t->job = job;
	t->start_ticks = p->start_ticks;
	if (id)
		snprintf(id, 256, "%s", job->id);
	if (workers_submit(a->workers, job_run, job_dispose, t) < 0) {
		free(t);
		capture_job_free(job);
		return -EAGAIN;
	}
	p->capturing = true;
	limit_record(&ts->limits, mono);
	return 0;
}

static void refuse(agent *a, struct tstate *ts, struct tproc *p, const char *rule, enum agent_refusal r)
{
	ts->refused[r]++;
	log_warn("capture refused", "target=%s pid=%d rule=%s reason=%s", ts->conf->name, (int)p->pid,
		 rule, agent_refusal_name(r));
	(void)a;
}

void agent_on_verdicts(agent *a, struct tstate *ts, struct tproc *p, int64_t mono_ms)
{
	for (size_t i = 0; i < ts->conf->nrules && i < p->nrules; i++) {
		const struct rule_verdict *v = &p->verdicts[i];
		const struct rule_conf *r = &ts->conf->rules[i];
		if (!v->fire)
			continue;
		ts->firings[i]++;
		rules_mark_fired(&p->rs[i], mono_ms);
		enum agent_refusal why = agent_admit(a, ts, p, mono_ms);
		if (why != REFUSE_NONE) {
			log_info("rule fired", "target=%s pid=%d rule=%s reason=%s", ts->conf->name,
				 (int)p->pid, r->name, v->reason);
			refuse(a, ts, p, r->name, why);
			continue;
		}
		struct capture_job *job = make_job(a, ts, p, &r->capture);
		job->trig.kind = TRIGGER_RULE;
		job->trig.metric = r->metric;
		job->trig.value = v->value;
		job->trig.avg = v->avg;
		job->trig.threshold = v->threshold;
		capture_job_set_trigger_text(job, r->name, v->condition, v->reason);
		struct history_point *hp = xcalloc(HISTORY_EXPORT_MAX, sizeof(*hp));
		job->trig.nhistory = hist_export(tproc_rule_hist(p, ts->conf, i), hp, HISTORY_EXPORT_MAX);
		job->trig.history = hp;
		char id[256] = "";
		if (submit(a, ts, p, job, mono_ms, id) < 0) {
			log_info("rule fired", "target=%s pid=%d rule=%s reason=%s", ts->conf->name,
				 (int)p->pid, r->name, v->reason);
			refuse(a, ts, p, r->name, REFUSE_QUEUE);
			continue;
		}
		log_info("rule fired", "target=%s pid=%d rule=%s bundle=%s reason=%s", ts->conf->name,
			 (int)p->pid, r->name, id, v->reason);
	}
}

/* ---- baselines: taken off the sampling thread ---- */

struct baseline_task {
	pid_t pid;
	char *target;
	char *dir;
	char *go_url;
	bool jvm;
	bool remove;
};

static void baseline_free(void *arg)
{
	struct baseline_task *b = arg;
	free(b->target);
	free(b->dir);
	free(b->go_url);
	free(b);
}

static void baseline_run(void *arg, volatile sig_atomic_t *stop)
{
	struct baseline_task *b = arg;
	(void)stop;
	if (b->remove) {
		util_rm_rf(b->dir);
	} else {
		int rc = util_mkdir_p(b->dir, 0700);
		if (rc == 0)
			rc = b->go_url ? go_heap_baseline(b->go_url, b->dir)
			     : b->jvm  ? jvm_heap_baseline(b->pid, b->dir)
				       : heapnative_baseline(b->pid, b->dir);
		if (rc < 0)
			log_warn("heap baseline failed", "target=%s pid=%d error=%s", b->target, (int)b->pid,
				 strerror(-rc));
		else
			log_debug("heap baseline taken", "pid=%d dir=%s", (int)b->pid, b->dir);
	}
	baseline_free(b);
}

static bool any_cooling(const struct tproc *p)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (p->verdicts[i].cooling || p->verdicts[i].cond)
			return true;
	return false;
}

static int64_t max_cooldown(const struct target_conf *t)
{
	int64_t m = 0;
	for (size_t i = 0; i < t->nrules; i++)
		if (t->rules[i].cooldown_ms > m)
			m = t->rules[i].cooldown_ms;
	return m ? m : 600000;
}

/*
 * Native processes get their smaps baseline when first seen; Go processes a
 * heap profile when warm-up ends, refreshed once every cooldown period while
 * no rule is firing or cooling, so the baseline shows the healthy state.
 */
void agent_maybe_baseline(agent *a, struct tstate *ts, struct tproc *p, int64_t mono_ms)
{
	/* JVMs, like Go, get a class histogram when warm, refreshed while healthy */
	bool jvm = p->jvm_state == TPROC_JVM_PERF || p->jvm_state == TPROC_JVM_NO_PERF;
	bool go = ts->conf->go_url != NULL || jvm;
	if (!ts->heap_baseline)
		return;
	/*
	 * While the JVM probe runs (a young process), the smaps baseline is taken
	 * at once as for any native process, so a rule firing in the first
	 * seconds still has it; once the process turns out to be a JVM, its class
	 * histogram replaces it when warm.
	 */
	if (p->baseline_mono_ms > 0 && jvm && !p->baseline_jvm) {
		if (!p->warm)
			return;
	} else if (p->baseline_mono_ms > 0) {
		if (!go || any_cooling(p) || mono_ms - p->baseline_mono_ms < max_cooldown(ts->conf))
			return;
	} else if (go && !p->warm) {
		return;
	}
	struct baseline_task *b = xcalloc(1, sizeof(*b));
	b->pid = p->pid;
	b->target = xstrdup(ts->conf->name);
	b->dir = xstrdup(p->baseline_dir);
	b->go_url = ts->conf->go_url ? xstrdup(ts->conf->go_url) : NULL;
	b->jvm = jvm;
	p->baseline_jvm = jvm;
	if (workers_submit(a->workers, baseline_run, baseline_free, b) < 0) {
		baseline_free(b);
		return;
	}
	p->baseline_mono_ms = mono_ms;
}

void agent_drop_baseline(agent *a, struct tproc *p)
{
	if (p->baseline_mono_ms == 0)
		return;
	struct baseline_task *b = xcalloc(1, sizeof(*b));
	b->dir = xstrdup(p->baseline_dir);
	b->remove = true;
	if (workers_submit(a->workers, baseline_run, baseline_free, b) < 0) {
		util_rm_rf(b->dir);
		baseline_free(b);
	}
}

/* ---- on-demand captures (API, alerts) ---- */

static bool dedup_hit(agent *a, const char *key, int64_t cooldown, int64_t mono)
{
	for (size_t i = 0; i < a->ndedup; i++) {
		if (strcmp(a->dedup[i].key, key) != 0)
			continue;
		if (mono < a->dedup[i].until_mono_ms)
			return true;
		a->dedup[i].until_mono_ms = mono + cooldown;
		return false;
	}
	size_t slot = a->ndedup < DEDUP_MAX ? a->ndedup++ : 0;
	for (size_t i = 0; i < a->ndedup; i++) /* full: reuse the entry that expires first */
		if (a->dedup[i].until_mono_ms < a->dedup[slot].until_mono_ms)
			slot = i;
	snprintf(a->dedup[slot].key, sizeof(a->dedup[slot].key), "%s", key);
	a->dedup[slot].until_mono_ms = mono + cooldown;
	return false;
}

static const struct capture_list *default_capture(const struct target_conf *t, struct capture_list *tmp,
						  struct capture_item *items)
{
	if (t->nrules > 0)
		return &t->rules[0].capture;
	items[0] = (struct capture_item){.kind = K_STACKS};
	items[1] = (struct capture_item){.kind = K_HEAP};
	tmp->items = items;
	tmp->n = 2;
	return tmp;
}

int agent_request_capture(agent *a, const struct agent_capture_req *req, struct agent_capture_result *res)
{
	int64_t mono = util_mono_ms();
	struct capture_list tmp;
	struct capture_item tmp_items[2];

	res->nids = 0;
	res->refusal = REFUSE_NONE;
	res->detail[0] = '\0';
	pthread_mutex_lock(&a->lock);
	struct tstate *ts = agent_find_ts(a, req->target);
	if (!ts) {
		res->refusal = REFUSE_UNKNOWN_TARGET;
		snprintf(res->detail, sizeof(res->detail), "unknown target '%s'", req->target);
		goto out;
	}
	const struct capture_list *items = req->capture ? req->capture : default_capture(ts->conf, &tmp, tmp_items);
	for (size_t i = 0; i < items->n; i++) {
		enum capture_kind k = items->items[i].kind;
		if (capture_kind_jvm_only(k) && (ts->conf->go_url || ts->conf->jvm_off)) {
			res->refusal = REFUSE_BAD_KIND;
			snprintf(res->detail, sizeof(res->detail), "capture kind %s needs a JVM target",
				 capture_kind_name(k));
			goto out;
		}
		if (!ts->conf->go_url && !capture_kind_native(k) && !capture_kind_jvm_only(k)) {
			res->refusal = REFUSE_BAD_KIND;
			snprintf(res->detail, sizeof(res->detail), "capture kind %s needs a Go target (go.url)",
				 capture_kind_name(items->items[i].kind));
			goto out;
		}
	}
	if (req->dedup_key && dedup_hit(a, req->dedup_key, req->cooldown_ms, mono)) {
		res->refusal = REFUSE_COOLDOWN;
		snprintf(res->detail, sizeof(res->detail), "the same alert was captured less than %llds ago",
			 (long long)(req->cooldown_ms / 1000));
		goto out;
	}
	size_t matched = 0;
	for (size_t i = 0; i < ts->nprocs; i++) {
		struct tproc *p = ts->procs[i];
		if (req->pid && p->pid != req->pid)
			continue;
		matched++;
		enum agent_refusal why = agent_admit(a, ts, p, mono);
		if (why != REFUSE_NONE) {
			ts->refused[why]++;
			if (res->refusal == REFUSE_NONE) {
				res->refusal = why;
				snprintf(res->detail, sizeof(res->detail), "pid %d: %s", (int)p->pid,
					 agent_refusal_name(why));
			}
			continue;
		}
		struct capture_job *job = make_job(a, ts, p, items);
		job->trig.kind = req->kind;
		capture_job_set_trigger_text(job, NULL, NULL, req->reason);
		job->trig.alert_labels = capture_labels_copy(req->alert_labels, req->nalert_labels);
		job->trig.nalert_labels = req->nalert_labels;
		job->trig.alert_annotations = capture_labels_copy(req->alert_annotations, req->nalert_annotations);
		job->trig.nalert_annotations = req->nalert_annotations;
		if (req->alert_generator_url)
			job->trig.alert_generator_url = xstrdup(req->alert_generator_url);
		char id[256];
		if (submit(a, ts, p, job, mono, id) < 0) {
			ts->refused[REFUSE_QUEUE]++;
			if (res->refusal == REFUSE_NONE)
				res->refusal = REFUSE_QUEUE;
			continue;
		}
		if (res->nids < res->max_ids)
			snprintf(res->ids[res->nids++], 256, "%s", id);
	}
	if (matched == 0) {
		res->refusal = REFUSE_NO_PROCESS;
		if (req->pid)
			snprintf(res->detail, sizeof(res->detail), "pid %d is not a process of target '%s'",
				 (int)req->pid, req->target);
		else
			snprintf(res->detail, sizeof(res->detail), "target '%s' has no running process",
				 req->target);
	}
out:
	pthread_mutex_unlock(&a->lock);
	return res->nids > 0 ? 0 : -EAGAIN;
}

struct tstate *agent_find_ts(agent *a, const char *name)
{
	/* conf is NULL for a target whose state a reload already moved. */
	for (size_t i = 0; i < a->nts; i++)
		if (a->ts[i].conf && !strcmp(a->ts[i].conf->name, name))
			return &a->ts[i];
	return NULL;
}
