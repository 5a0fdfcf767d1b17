/* agent_metrics: the agent's state as Prometheus text exposition (GET /metrics). */
#include "agent/agent_int.h"
#include "capture/native/flightrec.h"
#include "capture/native/mtrack.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bundle/spool.h"
#include "bundle/uploader.h"
#include "lib/fdbudget.h"
#include "lib/util.h"

/*
 * Every label here has a bounded set of values: target and rule names come
 * from the config, kind/result/reason/metric from fixed tables. There is no
 * per-pid or per-request label: a target with many short-lived processes
 * must not become the unbounded-series leak hound exists to catch.
 */

struct pbuf {
	char *b;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void pf(struct pbuf *p, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = p->cap - p->len;
		va_start(ap, fmt);
		int n = vsnprintf(p->b ? p->b + p->len : NULL, p->b ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (p->b && (size_t)n < room) {
			p->len += (size_t)n;
			return;
		}
		size_t want = p->len + (size_t)n + 1;
		size_t cap = p->cap ? p->cap : 4096;
		while (cap < want)
			cap *= 2;
		p->b = xrealloc(p->b, cap);
		p->cap = cap;
	}
}

static void family(struct pbuf *p, const char *name, const char *type, const char *help)
{
	pf(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Appends a label value with Prometheus escaping (\\, \", \n). */
static void esc(struct pbuf *p, const char *s)
{
	while (s && *s) {
		size_t n = strcspn(s, "\\\"\n");
		if (n)
			pf(p, "%.*s", (int)n, s);
		s += n;
		if (!*s)
			break;
		pf(p, "%s", *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\");
		s++;
	}
}

static void val(struct pbuf *p, double v)
{
	if (isnan(v))
		pf(p, " NaN\n");
	else if (isinf(v))
		pf(p, v > 0 ? " +Inf\n" : " -Inf\n");
	else if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v)
		pf(p, " %lld\n", (long long)v); /* byte counts and thresholds stay exact */
	else
		pf(p, " %.10g\n", v);
}

static void sample0(struct pbuf *p, const char *name, double v)
{
	pf(p, "%s", name);
	val(p, v);
}

static void sample_u(struct pbuf *p, const char *name, uint64_t v)
{
	pf(p, "%s %llu\n", name, (unsigned long long)v);
}

/* name{target="T"} v, and optionally a second label. */
static void sample_t(struct pbuf *p, const char *name, const char *target, const char *k2,
		     const char *v2, double v)
{
	pf(p, "%s{target=\"", name);
	esc(p, target);
	if (k2) {
		pf(p, "\",%s=\"", k2);
		esc(p, v2);
	}
	pf(p, "\"}");
	val(p, v);
}

static void rule_sample(struct pbuf *p, const char *name, const char *target,
			const struct rule_conf *r, const char *bound, double v)
{
	pf(p, "%s{target=\"", name);
	esc(p, target);
	pf(p, "\",rule=\"");
	esc(p, r->name);
	pf(p, "\",metric=\"%s\"", metric_info(r->metric)->name);
	if (bound)
		pf(p, ",bound=\"%s\"", bound);
	pf(p, "}");
	val(p, v);
}

static void write_loop(struct pbuf *p, agent *a, int64_t now)
{
	double age = a->ticks ? (double)(now - a->last_tick_mono_ms) / 1000.0 : NAN;
	family(p, "hound_healthy", "gauge", "1 when the sampling loop ran within 3 intervals.");
	sample0(p, "hound_healthy", a->ticks && age * 1000.0 <= 3.0 * (double)a->cfg->interval_ms);
	family(p, "hound_sample_interval_seconds", "gauge", "Configured sampling interval.");
	sample0(p, "hound_sample_interval_seconds", (double)a->cfg->interval_ms / 1000.0);
	family(p, "hound_last_tick_age_seconds", "gauge",
	       "Time since the last sampling tick began.");
	sample0(p, "hound_last_tick_age_seconds", age);
	family(p, "hound_sample_loop_duration_seconds", "gauge",
	       "Duration of the last sampling tick.");
	sample0(p, "hound_sample_loop_duration_seconds", (double)a->last_loop_ms / 1000.0);
	family(p, "hound_sample_loop_duration_max_seconds", "gauge",
	       "Longest sampling tick since the agent started.");
	sample0(p, "hound_sample_loop_duration_max_seconds", (double)a->max_loop_ms / 1000.0);
	family(p, "hound_sample_lag_seconds", "gauge",
	       "How late the last tick started against its schedule.");
	sample0(p, "hound_sample_lag_seconds", (double)a->last_lag_ms / 1000.0);
	family(p, "hound_sample_lag_max_seconds", "gauge",
	       "Worst tick start lateness since the agent started.");
	sample0(p, "hound_sample_lag_max_seconds", (double)a->max_lag_ms / 1000.0);
	family(p, "hound_ticks_total", "counter", "Sampling ticks run.");
	sample_u(p, "hound_ticks_total", a->ticks);
	family(p, "hound_samples_total", "counter", "Process samples taken.");
	sample_u(p, "hound_samples_total", a->samples);
	family(p, "hound_sample_errors_total", "counter",
	       "Process samples that failed (not exits).");
	sample_u(p, "hound_sample_errors_total", a->sample_errors);
	family(p, "hound_scans_total", "counter", "Process discovery scans.");
	sample_u(p, "hound_scans_total", a->scans);
	struct fdbudget_stats fb;
	fdbudget_get(&fb);
	family(p, "hound_open_files_limit", "gauge", "RLIMIT_NOFILE soft limit of the agent.");
	sample_u(p, "hound_open_files_limit", (uint64_t)fb.limit);
	family(p, "hound_open_files_kept", "gauge", "Files kept open for sampling.");
	sample_u(p, "hound_open_files_kept", (uint64_t)fb.kept);
	family(p, "hound_open_files_kept_max", "gauge",
	       "Files that may be kept open for sampling (the limit less a reserve for the API, "
	       "captures and uploads).");
	sample_u(p, "hound_open_files_kept_max", (uint64_t)fb.budget);
	family(p, "hound_processes_degraded", "gauge",
	       "Processes sampled with open/read/close because the kept-file budget is spent.");
	sample_u(p, "hound_processes_degraded", (uint64_t)fb.degraded);
	family(p, "hound_reloads_total", "counter", "Configuration reloads, by result.");
	pf(p, "hound_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)a->reloads);
	pf(p, "hound_reloads_total{result=\"rejected\"} %llu\n",
	   (unsigned long long)a->reload_failures);
}

static void write_captures(struct pbuf *p, agent *a)
{
	family(p, "hound_captures_total", "counter",
	       "Capture kinds run in bundles, by kind and result (failed: the bundle lists an "
	       "error).");
	for (int k = 0; k < K_COUNT; k++)
		for (int r = 0; r < 2; r++)
			pf(p, "hound_captures_total{kind=\"%s\",result=\"%s\"} %llu\n",
			   capture_kind_name((enum capture_kind)k), r ? "failed" : "ok",
			   (unsigned long long)a->captures_by_kind[k][r]);
	uint64_t mo[MTRACK_NOUTCOMES];
	mtrack_outcomes(mo);
	family(p, "hound_malloc_trackings_total", "counter",
	       "Malloc trackings of native heap captures, by result (ok, over_budget, "
	       "no_privilege, unavailable, failed).");
	for (int o = 0; o < MTRACK_NOUTCOMES; o++)
		pf(p, "hound_malloc_trackings_total{result=\"%s\"} %llu\n",
		   mtrack_outcome_name((enum mtrack_outcome)o), (unsigned long long)mo[o]);
	family(p, "hound_capture_jobs_total", "counter", "Bundles finished, by result.");
	pf(p, "hound_capture_jobs_total{result=\"ok\"} %llu\n",
	   (unsigned long long)a->capture_jobs_ok);
	pf(p, "hound_capture_jobs_total{result=\"failed\"} %llu\n",
	   (unsigned long long)a->capture_jobs_failed);
	family(p, "hound_capture_jobs_queued", "gauge",
	       "Capture and baseline jobs waiting for a worker.");
	sample0(p, "hound_capture_jobs_queued", (double)workers_queued(a->workers));
	family(p, "hound_capture_jobs_running", "gauge", "Capture and baseline jobs running.");
	sample0(p, "hound_capture_jobs_running", (double)workers_running(a->workers));
}

/*
 * One metric name per unit, in Prometheus base units: a gauge never mixes
 * bytes with percentages. Percentages and ms-per-second become ratios
 * (0.5 = 50%), counts of things (threads, fds, goroutines, series) are
 * "items". NULL for a unit without a family (never exported).
 */
static const struct unit_family {
	const char *suffix, *help;
	double scale;
} *unit_family(enum metric_unit u)
{
	static const struct unit_family bytes = {"bytes", "bytes", 1},
					ratio = {"ratio", "a ratio (0.5 = 50%)", 0.01},
					ms_per_s = {"ratio", "a ratio (0.5 = 50%)", 0.001},
					seconds = {"seconds", "seconds", 1},
					items = {"items", "a count of things", 1};
	switch (u) {
	case UNIT_BYTES:
		return &bytes;
	case UNIT_PERCENT:
		return &ratio;
	case UNIT_MS_PER_S:
		return &ms_per_s;
	case UNIT_SECONDS:
		return &seconds;
	case UNIT_COUNT:
		return &items;
	default:
		return NULL;
	}
}

static const char *const unit_suffixes[] = {"bytes", "ratio", "seconds", "items"};

/* The largest last value of metric m over t's processes; false when none has one. */
static bool target_max(const struct tstate *t, int m, double *out)
{
	bool any = false;
	for (size_t j = 0; j < t->nprocs; j++) {
		const struct proc_sample *s = &t->procs[j]->last;
		if (!(s->valid & METRIC_BIT(m)))
			continue;
		if (!any || s->v[m] > *out)
			*out = s->v[m];
		any = true;
	}
	return any;
}

static void write_target_metrics(struct pbuf *p, agent *a)
{
	char name[64];
	for (size_t u = 0; u < ARRAY_LEN(unit_suffixes); u++) {
		bool header = false;
		for (size_t i = 0; i < a->nts; i++) {
			const struct tstate *t = &a->ts[i];
			for (int m = 0; m < M_COUNT; m++) {
				const struct unit_family *f = unit_family(metric_info((enum metric_id)m)->unit);
				double mx = 0;
				if (!f || strcmp(f->suffix, unit_suffixes[u]) ||
				    !(t->conf->metric_mask & METRIC_BIT(m)) || !target_max(t, m, &mx))
					continue;
				snprintf(name, sizeof(name), "hound_target_metric_%s", f->suffix);
				if (!header) {
					pf(p, "# HELP %s Last sampled value of each configured metric in %s, "
					      "the maximum over the target's processes.\n# TYPE %s gauge\n",
					   name, f->help, name);
					header = true;
				}
				sample_t(p, name, t->conf->name, "metric",
					 metric_info((enum metric_id)m)->name, mx * f->scale);
			}
		}
	}
}

static void write_targets(struct pbuf *p, agent *a, int64_t now)
{
	family(p, "hound_target_processes", "gauge", "Processes currently matched by each target.");
	for (size_t i = 0; i < a->nts; i++)
		sample_t(p, "hound_target_processes", a->ts[i].conf->name, NULL, NULL,
			 (double)a->ts[i].nprocs);
	family(p, "hound_flight_recorder_bytes", "gauge",
	       "Memory held by the flight recorders of each target's processes.");
	for (size_t i = 0; i < a->nts; i++) {
		double bytes = 0;
		for (size_t j = 0; j < a->ts[i].nprocs; j++)
			if (a->ts[i].procs[j]->flight)
				bytes += (double)flightrec_memory(a->ts[i].procs[j]->flight);
		sample_t(p, "hound_flight_recorder_bytes", a->ts[i].conf->name, NULL, NULL, bytes);
	}
	family(p, "hound_go_endpoint_errors", "gauge",
	       "Failed reads of the Go endpoints, summed over each target's current processes.");
	for (size_t i = 0; i < a->nts; i++) {
		double errs = 0;
		for (size_t j = 0; j < a->ts[i].nprocs; j++)
			if (a->ts[i].procs[j]->go)
				errs += (double)go_sampler_errors(a->ts[i].procs[j]->go);
		sample_t(p, "hound_go_endpoint_errors", a->ts[i].conf->name, NULL, NULL, errs);
	}
	family(p, "hound_target_process_events_total", "counter",
	       "Processes that joined or left each target.");
	for (size_t i = 0; i < a->nts; i++) {
		sample_t(p, "hound_target_process_events_total", a->ts[i].conf->name, "event",
			 "joined", (double)a->ts[i].procs_started);
		sample_t(p, "hound_target_process_events_total", a->ts[i].conf->name, "event",
			 "left", (double)a->ts[i].procs_exited);
	}
	family(p, "hound_target_captures_total", "counter",
	       "Bundles finished per target, by result.");
	for (size_t i = 0; i < a->nts; i++) {
		sample_t(p, "hound_target_captures_total", a->ts[i].conf->name, "result", "ok",
			 (double)a->ts[i].captures_ok);
		sample_t(p, "hound_target_captures_total", a->ts[i].conf->name, "result", "failed",
			 (double)a->ts[i].captures_failed);
	}
	family(p, "hound_capture_refusals_total", "counter",
	       "Captures refused per target, by reason (limit, cooldown, busy, disk, ...).");
	for (size_t i = 0; i < a->nts; i++)
		for (int r = REFUSE_NONE + 1; r <= REFUSE_BAD_KIND; r++)
			if (a->ts[i].refused[r])
				sample_t(p, "hound_capture_refusals_total", a->ts[i].conf->name,
					 "reason", agent_refusal_name((enum agent_refusal)r),
					 (double)a->ts[i].refused[r]);
	family(p, "hound_target_captures_in_window", "gauge",
	       "Captures counted against limits.max_captures in the current window.");
	for (size_t i = 0; i < a->nts; i++) {
		const struct limit_state *l = &a->ts[i].limits;
		int n = 0;
		for (int j = 0; j < l->n; j++)
			n += l->times[j] > now - a->ts[i].conf->limit_window_ms;
		sample_t(p, "hound_target_captures_in_window", a->ts[i].conf->name, NULL, NULL, n);
	}
	family(p, "hound_target_capture_limit", "gauge", "limits.max_captures of each target.");
	for (size_t i = 0; i < a->nts; i++)
		sample_t(p, "hound_target_capture_limit", a->ts[i].conf->name, NULL, NULL,
			 a->ts[i].conf->max_captures);
	family(p, "hound_target_go_errors", "gauge",
	       "Processes of a Go target whose last endpoint read failed.");
	for (size_t i = 0; i < a->nts; i++) {
		if (!a->ts[i].conf->go_url)
			continue;
		int n = 0;
		for (size_t j = 0; j < a->ts[i].nprocs; j++)
			n += a->ts[i].procs[j]->go_error != NULL;
		sample_t(p, "hound_target_go_errors", a->ts[i].conf->name, NULL, NULL, n);
	}
	write_target_metrics(p, a);
}

/* The fixed min/abs bounds of the rules, one family per unit as for the metrics. */
static void write_thresholds(struct pbuf *p, agent *a)
{
	char name[64];
	for (size_t u = 0; u < ARRAY_LEN(unit_suffixes); u++) {
		bool header = false;
		for (size_t i = 0; i < a->nts; i++)
			for (size_t r = 0; r < a->ts[i].conf->nrules; r++) {
				const struct rule_conf *rc = &a->ts[i].conf->rules[r];
				const struct unit_family *f = unit_family(metric_info(rc->metric)->unit);
				if (!f || strcmp(f->suffix, unit_suffixes[u]) || (!rc->has_min && !rc->has_abs))
					continue;
				snprintf(name, sizeof(name), "hound_rule_threshold_%s", f->suffix);
				if (!header) {
					pf(p, "# HELP %s Fixed min/abs bounds of each rule, in %s.\n"
					      "# TYPE %s gauge\n", name, f->help, name);
					header = true;
				}
				if (rc->has_min)
					rule_sample(p, name, a->ts[i].conf->name, rc, "min", rc->min * f->scale);
				if (rc->has_abs)
					rule_sample(p, name, a->ts[i].conf->name, rc, "abs", rc->abs * f->scale);
			}
	}
}

static void write_rules(struct pbuf *p, agent *a, int64_t now)
{
	family(p, "hound_rule_firings_total", "counter",
	       "Rule firings (captures may still be refused by limits).");
	for (size_t i = 0; i < a->nts; i++)
		for (size_t r = 0; r < a->ts[i].conf->nrules; r++)
			rule_sample(p, "hound_rule_firings_total", a->ts[i].conf->name,
				    &a->ts[i].conf->rules[r], NULL, (double)a->ts[i].firings[r]);
	write_thresholds(p, a);
	family(p, "hound_rule_diff_ratio", "gauge",
	       "diff of each rule: fire when value >= average * (1 + diff).");
	for (size_t i = 0; i < a->nts; i++)
		for (size_t r = 0; r < a->ts[i].conf->nrules; r++)
			if (a->ts[i].conf->rules[r].has_diff)
				rule_sample(p, "hound_rule_diff_ratio", a->ts[i].conf->name,
					    &a->ts[i].conf->rules[r], NULL,
					    a->ts[i].conf->rules[r].diff);
	for (int pass = 0; pass < 2; pass++) {
		const char *name = pass ? "hound_rule_cooling_processes" : "hound_rule_streak";
		if (pass)
			family(p, name, "gauge", "Processes for which the rule is cooling down.");
		else
			family(p, name, "gauge",
			       "Longest run of consecutive evaluations whose condition held, over "
			       "the target's processes.");
		for (size_t i = 0; i < a->nts; i++) {
			const struct tstate *t = &a->ts[i];
			for (size_t r = 0; r < t->conf->nrules; r++) {
				const struct rule_conf *rc = &t->conf->rules[r];
				int streak = 0, cooling = 0;
				for (size_t j = 0; j < t->nprocs; j++) {
					const struct tproc *pr = t->procs[j];
					if (r >= pr->nrules)
						continue;
					if (pr->rs[r].streak > streak)
						streak = pr->rs[r].streak;
					cooling += pr->rs[r].fired &&
						   now - pr->rs[r].last_fire_ms < rc->cooldown_ms;
				}
				rule_sample(p, name, t->conf->name, rc, NULL,
					    pass ? cooling : streak);
			}
		}
	}
}

static void write_spool(struct pbuf *p, const agent *a)
{
	family(p, "hound_spool_full", "gauge",
	       "1 while captures are refused because the spool is full (max_disk or its filesystem).");
	sample_u(p, "hound_spool_full", a->disk_full ? 1 : 0);
	family(p, "hound_spool_full_episodes_total", "counter",
	       "Times the spool became full and captures started being refused.");
	sample_u(p, "hound_spool_full_episodes_total", a->disk_full_episodes);
	if (a->disk_avail_bytes >= 0) {
		family(p, "hound_spool_available_bytes", "gauge",
		       "Bytes available on the spool's filesystem at the last capture check.");
		sample_u(p, "hound_spool_available_bytes", (uint64_t)a->disk_avail_bytes);
	}
}

static void write_upload(struct pbuf *p, uploader *up)
{
	struct uploader_stats s;
	uploader_get_stats(up, &s);
	family(p, "hound_upload_pending_bundles", "gauge", "Complete bundles not yet uploaded.");
	sample_u(p, "hound_upload_pending_bundles", s.pending_bundles);
	family(p, "hound_upload_pending_bytes", "gauge", "Bytes of bundles not yet uploaded.");
	sample_u(p, "hound_upload_pending_bytes", s.pending_bytes);
	family(p, "hound_uploaded_bundles_total", "counter", "Bundles uploaded completely.");
	sample_u(p, "hound_uploaded_bundles_total", s.uploaded_bundles);
	family(p, "hound_uploaded_bytes_total", "counter", "Bytes uploaded.");
	sample_u(p, "hound_uploaded_bytes_total", s.uploaded_bytes);
	family(p, "hound_upload_errors_total", "counter", "Failed upload attempts, by kind.");
	pf(p, "hound_upload_errors_total{kind=\"auth\"} %llu\n", (unsigned long long)s.auth_errors);
	pf(p, "hound_upload_errors_total{kind=\"other\"} %llu\n",
	   (unsigned long long)(s.upload_errors - (s.auth_errors < s.upload_errors
						       ? s.auth_errors
						       : s.upload_errors)));
	family(p, "hound_upload_last_success_timestamp_seconds", "gauge",
	       "Unix time of the last completed bundle upload (0: none yet).");
	sample0(p, "hound_upload_last_success_timestamp_seconds",
		(double)s.last_success_wall_ms / 1000.0);
}

/* Unix time the agent started: boot time (/proc/stat btime) plus its start tick; -1 when unknown. */
static double self_start_time(void)
{
	char buf[1024];
	unsigned long long btime = 0, ticks = 0;
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	f = fopen("/proc/self/stat", "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *c = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	/* after ')': state is field 3; starttime is field 22 */
	if (!c || sscanf(c + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
				"%*s %*s %llu", &ticks) != 1 || btime == 0)
		return -1;
	return (double)btime + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* process_open_fds, process_max_fds, process_start_time_seconds, as Prometheus clients export them. */
static void write_self_fds(struct pbuf *p)
{
	struct rlimit rl;
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		for (struct dirent *e; (e = readdir(d));)
			n += e->d_name[0] != '.';
		closedir(d);
		family(p, "process_open_fds", "gauge", "Open file descriptors of the agent.");
		sample0(p, "process_open_fds", n - 1); /* less the one reading the directory */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		family(p, "process_max_fds", "gauge", "Limit on the agent's open file descriptors.");
		sample0(p, "process_max_fds", rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
	}
	static double start; /* computed once: the start time does not change */
	if (start == 0)
		start = self_start_time();
	if (start > 0) {
		family(p, "process_start_time_seconds", "gauge",
		       "Start time of the agent since the Unix epoch.");
		sample0(p, "process_start_time_seconds", start);
	}
}

/* The agent's own resources, read without the agent lock. */
static void write_self(struct pbuf *p)
{
	char buf[128];
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%lu %lu", &size, &res) == 2) {
			family(p, "process_resident_memory_bytes", "gauge",
			       "Resident memory of the agent.");
			sample0(p, "process_resident_memory_bytes",
				(double)res * (double)sysconf(_SC_PAGESIZE));
			family(p, "process_virtual_memory_bytes", "gauge",
			       "Virtual memory of the agent.");
			sample0(p, "process_virtual_memory_bytes",
				(double)size * (double)sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
	write_self_fds(p);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		family(p, "process_cpu_seconds_total", "counter", "CPU time used by the agent.");
		sample0(p, "process_cpu_seconds_total",
			(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
}

void agent_write_metrics(agent *a, char **buf, size_t *len)
{
	struct pbuf p = {*buf, *len, *len};
	int64_t now = util_mono_ms();

	family(&p, "hound_build_info", "gauge", "Always 1; the version is a label.");
	pf(&p, "hound_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	pthread_mutex_lock(&a->lock);
	write_loop(&p, a, now);
	write_captures(&p, a);
	write_targets(&p, a, now);
	write_rules(&p, a, now);
	write_spool(&p, a);
	uploader *up = a->up;
	char *output = xstrdup(a->cfg->output);
	uint64_t max_disk = a->cfg->max_disk;
	pthread_mutex_unlock(&a->lock);
	/* a->up changes only on reload, which stops the API first. */
	if (up)
		write_upload(&p, up);
	/* the spool is walked without the lock: a scrape never delays a sample */
	family(&p, "hound_spool_bytes", "gauge",
	       "Bytes under the output directory (every bundle, being captured or not uploaded).");
	sample0(&p, "hound_spool_bytes", (double)spool_usage(output));
	family(&p, "hound_spool_max_bytes", "gauge", "max_disk: the spool quota (0: none).");
	sample0(&p, "hound_spool_max_bytes", (double)max_disk);
	free(output);
	write_self(&p);
	*buf = p.b;
	*len = p.len;
}
