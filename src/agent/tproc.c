/* tproc: the runtime state of one watched process (histories, rule states, handles). */
#include "agent/tproc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ownsampler.h"
#include "capture/jvm/jvmproc.h"
#include "capture/native/flightrec.h"
#include "capture/native/lockgraph.h"
#include "lib/log.h"
#include "lib/util.h"

#define GO_METRICS_MASK                                                                          \
	(METRIC_BIT(M_GOROUTINES) | METRIC_BIT(M_HEAP_INUSE) | METRIC_BIT(M_HEAP_ALLOC) |        \
	 METRIC_BIT(M_HEAP_RELEASED) | METRIC_BIT(M_GC_PAUSE) | METRIC_BIT(M_GC_CPU) |           \
	 METRIC_BIT(M_SERIES) | METRIC_BIT(M_HEAP_LIVE))
#define LOCK_METRICS_MASK (METRIC_BIT(M_DEADLOCKED) | METRIC_BIT(M_LOCK_WAIT))

/* The look-back one rule needs (trend window or forecast horizon). */
static int64_t rule_window(const struct rule_conf *r)
{
	int64_t w = r->has_trend ? r->trend_window_ms : 0;
	return r->has_forecast && r->forecast_ms > w ? r->forecast_ms : w;
}

/* The longest look-back any rule needs on a metric (trend window or forecast horizon). */
static int64_t trend_window(const struct target_conf *t, enum metric_id m)
{
	int64_t w = 0;
	for (size_t i = 0; i < t->nrules; i++) {
		const struct rule_conf *r = &t->rules[i];
		if (r->metric != m || r->own.query)
			continue;
		if (r->has_trend && r->trend_window_ms > w)
			w = r->trend_window_ms;
		if (r->has_forecast && r->forecast_ms > w)
			w = r->forecast_ms;
	}
	return w;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* The GOGC a Go process started with: 100 unless its environment says otherwise, -1 for off. */
static int gogc_of(pid_t pid)
{
	char path[64], *env = NULL;
	size_t len = 0;
	int gogc = 100;
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if (util_read_file(path, &env, &len, 1 << 20) < 0)
		return gogc;
	for (size_t i = 0; i < len; i += strlen(env + i) + 1)
		if (util_str_has_prefix(env + i, "GOGC="))
			gogc = !strcmp(env + i + 5, "off") ? -1 : atoi(env + i + 5) > 0 ? atoi(env + i + 5) : 100;
	free(env);
	return gogc;
}

int tproc_new(const struct target_conf *t, const struct hound_config *c, const struct proc_ident *id,
	      struct tproc **out)
{
	struct tproc *p = xcalloc(1, sizeof(*p));
	int rc = proc_handle_open("/proc", "/sys/fs/cgroup", id->pid, id->start_ticks, &p->ph);
	if (rc < 0) {
		free(p);
		return rc;
	}
	p->pid = id->pid;
	p->start_ticks = id->start_ticks;
	p->start_wall_ms = proc_handle_start_wall_ms(p->ph);
	p->comm = dup_or_null(id->comm);
	/* The scan reads cmdline and exe only when a selector needs them; manifests always do. */
	p->cmdline = id->cmdline ? xstrdup(id->cmdline) : util_read_proc_text(id->pid, "cmdline");
	p->exe = id->exe ? xstrdup(id->exe) : util_read_proc_exe(id->pid);
	p->cgroup = dup_or_null(proc_handle_cgroup(p->ph));
	if (t->go_url && go_sampler_new(t->go_url, t->go_metrics, &p->go) < 0)
		p->go = NULL;
	if (p->go) {
		go_sampler_set_start(p->go, p->start_wall_ms);
		go_sampler_set_gogc(p->go, gogc_of(p->pid));
	}
	p->jvm_state = t->go_url || t->jvm_off ? TPROC_JVM_NOT : TPROC_JVM_PROBING;
	if (t->flight_recorder.enabled &&
	    flightrec_new(p->pid, t->flight_recorder.rate_hz, t->flight_recorder.keep_ms, &p->flight) < 0)
		p->flight = NULL; /* flightrec_new logged why; captures still work */
	for (int m = 0; m < M_COUNT; m++) {
		if (!(t->metric_mask & METRIC_BIT(m)))
			continue;
		p->hist[m] = xcalloc(1, sizeof(*p->hist[m]));
		hist_init(p->hist[m], c->history, trend_window(t, (enum metric_id)m), c->interval_ms);
		p->hist_mask |= METRIC_BIT(m);
	}
	if (own_sampler_needed(t)) {
		if (own_sampler_new(t, &p->own) < 0)
			p->own = NULL; /* no HTTP handle: the rules stay unjudged, as when it fails */
		p->own_hist = xcalloc(t->nrules, sizeof(*p->own_hist));
		p->own_v = xcalloc(t->nrules, sizeof(*p->own_v));
		p->own_valid = xcalloc(t->nrules, sizeof(*p->own_valid));
		p->own_rate = xcalloc(t->nrules, sizeof(*p->own_rate));
		for (size_t i = 0; i < t->nrules; i++) {
			if (!t->rules[i].own.query)
				continue;
			p->own_hist[i] = xcalloc(1, sizeof(*p->own_hist[i]));
			hist_init(p->own_hist[i], c->history, rule_window(&t->rules[i]),
				  c->interval_ms);
		}
	}
	p->nrules = t->nrules;
	p->rs = xcalloc(t->nrules ? t->nrules : 1, sizeof(*p->rs));
	p->verdicts = xcalloc(t->nrules ? t->nrules : 1, sizeof(*p->verdicts));
	p->first_seen_mono_ms = util_mono_ms();
	p->baseline_dir = xasprintf("%s/baselines/%s/%d-%llu", c->output, t->name, (int)p->pid,
				    (unsigned long long)p->start_ticks);
	*out = p;
	return 0;
}

void tproc_free(struct tproc *p)
{
	if (!p)
		return;
	proc_handle_free(p->ph);
	if (p->go)
		go_sampler_free(p->go);
	jvm_sampler_free(p->jvm);
	flightrec_free(p->flight);
	lockgraph_free(p->locks);
	free(p->locks_error);
	own_sampler_free(p->own);
	free(p->own_error);
	for (size_t i = 0; p->own_hist && i < p->nrules; i++)
		if (p->own_hist[i]) {
			hist_fini(p->own_hist[i]);
			free(p->own_hist[i]);
		}
	free(p->own_hist);
	free(p->own_v);
	free(p->own_valid);
	free(p->own_rate);
	for (int m = 0; m < M_COUNT; m++)
		if (p->hist_mask & METRIC_BIT(m))
			hist_fini(p->hist[m]);
	for (int m = 0; m < M_COUNT; m++)
		free(p->hist[m]);
	free(p->rs);
	free(p->verdicts);
	free(p->comm);
	free(p->cmdline);
	free(p->exe);
	free(p->cgroup);
	free(p->baseline_dir);
	free(p->go_error);
	free(p);
}

/* deadlocked and lock_wait from the lock graph; an error is logged once and leaves them unset. */
static void sample_locks(struct tproc *p, const struct target_conf *t, uint64_t need,
			 int64_t mono_ms, struct proc_sample *s)
{
	char err[256] = "";
	int rc = p->locks ? 0 : lockgraph_open(p->pid, &p->locks);

	if (rc < 0)
		snprintf(err, sizeof(err), "opening /proc/%d/task: %s", (int)p->pid, strerror(-rc));
	else
		rc = lockgraph_scan(p->locks, mono_ms, err, sizeof(err));
	if (rc < 0) {
		if (rc == -ESRCH)
			return; /* the exit is seen by the next stat read */
		if (!p->locks_error || strcmp(err, p->locks_error) != 0) {
			log_warn("lock graph failed", "target=%s pid=%d error=%s", t->name,
				 (int)p->pid, err);
			free(p->locks_error);
			p->locks_error = xstrdup(err);
		}
		return;
	}
	if (p->locks_error) {
		log_info("lock graph recovered", "target=%s pid=%d", t->name, (int)p->pid);
		free(p->locks_error);
		p->locks_error = NULL;
	}
	if (need & METRIC_BIT(M_DEADLOCKED)) {
		s->v[M_DEADLOCKED] = (double)lockgraph_deadlocked(p->locks);
		s->valid |= METRIC_BIT(M_DEADLOCKED);
	}
	if (need & METRIC_BIT(M_LOCK_WAIT)) {
		s->v[M_LOCK_WAIT] = (double)lockgraph_longest_wait_ms(p->locks, mono_ms) / 1000.0;
		s->valid |= METRIC_BIT(M_LOCK_WAIT);
	}
}

/* The target's own series, one history per rule; an error is logged when it changes. */
static void sample_own(struct tproc *p, const struct target_conf *t, int64_t mono_ms,
		       int64_t wall_ms, int64_t interval_ms)
{
	char err[512] = "";
	int rc;

	if (p->own)
		rc = own_sampler_sample(p->own, t, mono_ms, interval_ms, p->own_v, p->own_valid,
					p->own_rate, err, sizeof(err));
	else
		rc = util_err(err, sizeof(err), -ENOMEM, "no HTTP client for the target's series");
	if (rc < 0) {
		if (!p->own_error || strcmp(err, p->own_error) != 0) {
			log_warn("target series failed", "target=%s pid=%d error=%s", t->name,
				 (int)p->pid, err);
			free(p->own_error);
			p->own_error = xstrdup(err);
		}
	} else if (p->own_error) {
		log_info("target series recovered", "target=%s pid=%d", t->name, (int)p->pid);
		free(p->own_error);
		p->own_error = NULL;
	}
	for (size_t i = 0; i < t->nrules && i < p->nrules; i++)
		if (p->own_hist[i] && p->own_valid[i])
			hist_push(p->own_hist[i], mono_ms, wall_ms, p->own_v[i]);
}

static void jvm_set_state(struct tproc *p, const struct target_conf *t, enum tproc_jvm st,
			  const char *status)
{
	if (p->jvm_state == st && !strcmp(p->jvm_status, status))
		return;
	p->jvm_state = st;
	snprintf(p->jvm_status, sizeof(p->jvm_status), "%s", status);
	if (st == TPROC_JVM_PERF)
		log_info("JVM target", "target=%s pid=%d perfdata=yes", t->name, (int)p->pid);
	else if (st == TPROC_JVM_NO_PERF)
		log_warn("JVM target without PerfData", "target=%s pid=%d reason=\"%s\"", t->name,
			 (int)p->pid, status);
}

/*
 * Looks for the process's PerfData file while it is young (a JVM creates it
 * in its first second); after the window, one look at its maps tells a JVM
 * running without PerfData from a process that is not a JVM at all.
 */
static void jvm_probe(struct tproc *p, const struct target_conf *t, int64_t mono_ms, int64_t wall_ms)
{
	struct jvm_proc j;
	char err[256];

	if (p->jvm_probe_mono_ms && mono_ms - p->jvm_probe_mono_ms < TPROC_JVM_PROBE_EVERY_MS)
		return;
	p->jvm_probe_mono_ms = mono_ms;
	bool old = wall_ms - p->start_wall_ms > TPROC_JVM_PROBE_WINDOW_MS;
	if (jvm_proc_probe(p->pid, old, &j) < 0)
		return;
	/* a JVM told not to publish PerfData will not: decide now */
	if (!j.has_perf && !old && (j.flags & (JVM_FLAG_NO_PERFDATA | JVM_FLAG_PERF_NO_SHM)))
		old = jvm_proc_probe(p->pid, true, &j) == 0;
	if (j.has_perf) {
		int rc = jvm_sampler_open(j.perf_path, &p->jvm, err, sizeof(err));
		if (rc == 0)
			jvm_set_state(p, t, TPROC_JVM_PERF, "");
		else if (rc == -EACCES || rc == -EPERM)
			jvm_set_state(p, t, TPROC_JVM_NO_PERF,
				      "its PerfData file is private to the JVM's user: hound needs that "
				      "uid or CAP_DAC_READ_SEARCH (kept when a rule uses a JVM metric)");
		else if (rc != -EAGAIN)
			jvm_set_state(p, t, TPROC_JVM_NO_PERF, err);
		return;
	}
	if (old)
		jvm_set_state(p, t, j.libjvm ? TPROC_JVM_NO_PERF : TPROC_JVM_NOT,
			      j.libjvm ? jvm_proc_no_perf_reason(&j) : "");
}

int tproc_sample(struct tproc *p, const struct target_conf *t, host_sampler *host, int64_t mono_ms,
		 int64_t wall_ms, int64_t interval_ms)
{
	struct proc_sample s;
	uint64_t need = t->metric_mask;
	int rc = proc_handle_sample(p->ph, host, need & ~(GO_METRICS_MASK | LOCK_METRICS_MASK),
				    mono_ms, wall_ms, &s);
	if (rc < 0)
		return rc;
	if (need & LOCK_METRICS_MASK)
		sample_locks(p, t, need, mono_ms, &s);
	if (p->go && (need & GO_METRICS_MASK)) {
		char err[256] = "";
		if (go_sampler_sample(p->go, need & GO_METRICS_MASK, interval_ms, &s, err, sizeof(err)) < 0) {
			/* kept only while failing, and replaced only when the error changes */
			if (!p->go_error || strcmp(err, p->go_error) != 0) {
				log_warn("go endpoint failed", "target=%s pid=%d error=%s", t->name,
					 (int)p->pid, err);
				free(p->go_error);
				p->go_error = xstrdup(err);
			}
		} else if (p->go_error) {
			log_info("go endpoint recovered", "target=%s pid=%d", t->name, (int)p->pid);
			free(p->go_error);
			p->go_error = NULL;
		}
	}
	if (p->jvm_state == TPROC_JVM_PROBING)
		jvm_probe(p, t, mono_ms, wall_ms);
	if (p->jvm && jvm_sampler_sample(p->jvm, mono_ms, &s) < 0) {
		jvm_sampler_free(p->jvm);
		p->jvm = NULL;
		jvm_set_state(p, t, TPROC_JVM_NO_PERF, "the JVM's PerfData stopped parsing");
	}
	if (p->own_hist)
		sample_own(p, t, mono_ms, wall_ms, interval_ms);
	p->last = s;
	p->nsamples++;
	bool warm = true;
	for (int m = 0; m < M_COUNT; m++) {
		if (!(p->hist_mask & METRIC_BIT(m)))
			continue;
		if (s.valid & METRIC_BIT(m))
			hist_push(p->hist[m], mono_ms, wall_ms, s.v[m]);
		if (hist_count(p->hist[m]) < p->hist[m]->cap)
			warm = false;
	}
	p->warm = warm;
	return 0;
}

void tproc_eval(struct tproc *p, const struct target_conf *t, int64_t mono_ms)
{
	double limit = tproc_mem_limit(p);
	for (size_t i = 0; i < t->nrules && i < p->nrules; i++) {
		const struct rule_conf *r = &t->rules[i];
		struct rule_verdict *v = &p->verdicts[i];
		/* A metric that was not read this tick (e.g. Go endpoint down) is not re-judged. */
		bool read = r->own.query ? p->own_valid && p->own_valid[i]
					 : (p->last.valid & METRIC_BIT(r->metric)) != 0;
		if (!read) {
			memset(v, 0, sizeof(*v));
			continue;
		}
		if (r->own.query)
			p->rs[i].rate = p->own_rate[i];
		rules_eval(r, &p->rs[i], tproc_rule_hist(p, t, i), mono_ms, limit, v);
	}
}

double tproc_mem_limit(const struct tproc *p)
{
	return proc_handle_mem_limit(p->ph);
}

struct metric_hist *tproc_rule_hist(const struct tproc *p, const struct target_conf *t, size_t i)
{
	if (t->rules[i].own.query)
		return p->own_hist ? p->own_hist[i] : NULL;
	return p->hist[t->rules[i].metric];
}
