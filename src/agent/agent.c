/* agent: the daemon: discovery, the sampling loop, rule firings, captures, reloads. */
#include "agent/agent_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/notify.h"
#include "agent/privs.h"
#include "agent/reloader.h"
#include "bundle/spool.h"
#include "bundle/uploader.h"
#include "lib/log.h"
#include "lib/util.h"

#define CAPTURE_WORKERS 2
#define CAPTURE_QUEUE 64
#define DRAIN_MS 15000

void agent_block_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, RELOADER_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* A canonical text of everything that shapes a target's runtime state. */
static char *fingerprint(const struct target_conf *t, const struct hound_config *c)
{
	struct json_writer w;
	json_init(&w, false);
	json_arr_begin(&w);
	json_str(&w, t->name);
	json_int(&w, c->interval_ms);
	json_int(&w, c->history);
	json_int(&w, t->match.has_pid ? t->match.pid : -1);
	json_str(&w, t->match.pidfile);
	json_str(&w, t->match.comm);
	json_str(&w, t->match.cmdline);
	json_str(&w, t->match.exe);
	json_str(&w, t->match.cgroup);
	json_str(&w, t->match.user);
	json_str(&w, t->go_url);
	json_str(&w, t->go_metrics);
	json_int(&w, t->max_captures);
	json_int(&w, t->limit_window_ms);
	for (size_t i = 0; i < t->nrules; i++) {
		const struct rule_conf *r = &t->rules[i];
		json_str(&w, r->name);
		json_int(&w, r->metric);
		json_double(&w, r->has_min ? r->min : -1);
		json_double(&w, r->has_diff ? r->diff : -1);
		json_double(&w, r->has_abs ? r->abs : -1);
		json_int(&w, r->for_n);
		json_int(&w, r->cooldown_ms);
		json_int(&w, r->has_trend ? r->trend_window_ms : -1);
		json_double(&w, r->has_trend ? r->trend_slope : -1);
		json_int(&w, r->has_forecast ? r->forecast_ms : -1);
		json_double(&w, r->has_below ? r->below : -1);
		json_int(&w, r->has_stalled ? r->stalled_ms : -1);
		json_str(&w, r->own.query);
		json_str(&w, r->own.url);
	}
	json_arr_end(&w);
	return json_take(&w, NULL);
}

static bool list_has(const struct capture_list *l, enum capture_kind k)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].kind == k)
			return true;
	return false;
}

/* A heap baseline costs an smaps read (or a Go profile): take it only when a heap capture can come. */
static bool wants_heap_baseline(const struct target_conf *t, const struct hound_config *c)
{
	if (c->api.enabled)
		return true;
	for (size_t i = 0; i < t->nrules; i++)
		if (list_has(&t->rules[i].capture, K_HEAP))
			return true;
	for (size_t i = 0; i < c->nalerts; i++)
		if ((!c->alerts[i].target || !strcmp(c->alerts[i].target, t->name)) &&
		    list_has(&c->alerts[i].capture, K_HEAP))
			return true;
	return false;
}

static void tstate_init(struct tstate *ts, const struct target_conf *t, const struct hound_config *c)
{
	memset(ts, 0, sizeof(*ts));
	ts->conf = t;
	ts->heap_baseline = wants_heap_baseline(t, c);
	ts->fingerprint = fingerprint(t, c);
	limit_init(&ts->limits, t->max_captures);
	limit_init(&ts->core_limits, t->max_cores);
	ts->firings = xcalloc(t->nrules ? t->nrules : 1, sizeof(uint64_t));
}

static void tstate_fini(agent *a, struct tstate *ts)
{
	for (size_t i = 0; i < ts->nprocs; i++) {
		agent_drop_baseline(a, ts->procs[i]);
		tproc_free(ts->procs[i]);
	}
	free(ts->procs);
	limit_fini(&ts->limits);
	limit_fini(&ts->core_limits);
	free(ts->firings);
	free(ts->fingerprint);
}

static unsigned scan_needs(const struct hound_config *c)
{
	unsigned need = 0;
	for (size_t i = 0; i < c->ntargets; i++)
		need |= procs_selector_needs(&c->targets[i].match);
	return need;
}

/* Starts the parts that depend on the config: uploader and API server. */
static int start_services(agent *a)
{
	int rc;
	if (a->cfg->upload.enabled) {
		rc = uploader_new(a->cfg, &a->up);
		if (rc == 0)
			rc = uploader_start(a->up);
		if (rc < 0) {
			log_error("cannot start uploader", "error=%s", strerror(-rc));
			return rc;
		}
	}
	for (size_t i = 0; i < a->nsvc; i++) {
		rc = a->svc[i]->start(a, a->cfg, &a->svc_state[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void stop_services(agent *a, int64_t deadline)
{
	for (size_t i = a->nsvc; i-- > 0;) {
		if (a->svc_state[i])
			a->svc[i]->stop(a->svc_state[i]);
		a->svc_state[i] = NULL;
	}
	if (a->up) {
		uploader_stop(a->up, deadline);
		uploader_free(a->up);
		a->up = NULL;
	}
}

void agent_add_service(agent *a, const struct agent_service *svc)
{
	if (a->nsvc < AGENT_MAX_SERVICES)
		a->svc[a->nsvc++] = svc;
}

/* A spool left world-readable (an older version, a hand-made directory): closed to others. */
static void restrict_output(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0 || !(st.st_mode & 027))
		return;
	if (chmod(dir, st.st_mode & 0750) < 0)
		log_warn("output directory is open to other users and cannot be restricted", "dir=%s mode=%04o error=%s",
			 dir, (unsigned)(st.st_mode & 07777), strerror(errno));
	else
		log_info("output directory was open to other users: restricted", "dir=%s mode=%04o", dir,
			 (unsigned)(st.st_mode & 0750));
}

int agent_new(struct hound_config *cfg, agent **out)
{
	agent *a = xcalloc(1, sizeof(*a));
	a->disk_avail_bytes = -1;
	int rc;

	pthread_mutex_init(&a->lock, NULL);
	a->cfg = cfg;
	rc = util_mkdir_p(cfg->output, 0750);
	if (rc < 0) {
		log_error("cannot create output directory", "dir=%s error=%s", cfg->output, strerror(-rc));
		goto fail;
	}
	restrict_output(cfg->output);
	rc = host_sampler_new("/proc", &a->host);
	if (rc < 0) {
		log_error("cannot open host metrics", "error=%s", strerror(-rc));
		goto fail;
	}
	rc = procs_scan_new("/proc", scan_needs(cfg), &a->scan);
	if (rc < 0) {
		log_error("cannot start process discovery", "call=open(/proc) error=%s", strerror(-rc));
		goto fail;
	}
	a->nts = cfg->ntargets;
	a->ts = xcalloc(a->nts ? a->nts : 1, sizeof(*a->ts));
	for (size_t i = 0; i < a->nts; i++)
		tstate_init(&a->ts[i], &cfg->targets[i], cfg);
	rc = workers_new(CAPTURE_WORKERS, CAPTURE_QUEUE, &a->workers);
	if (rc < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	a->cfg = NULL; /* the caller still owns cfg on failure */
	agent_free(a);
	return rc;
}

void agent_free(agent *a)
{
	if (!a)
		return;
	/* Targets first: dropping their baselines still goes through the workers. */
	for (size_t i = 0; i < a->nts; i++)
		if (a->ts[i].conf)
			tstate_fini(a, &a->ts[i]);
	free(a->ts);
	if (a->workers) {
		workers_stop(a->workers, util_mono_ms());
		workers_free(a->workers);
	}
	stop_services(a, util_mono_ms());
	procs_scan_free(a->scan);
	host_sampler_free(a->host);
	for (size_t i = 0; i < RECENT_MAX; i++)
		free(a->recent[i].dir);
	config_free(a->cfg);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* ---- discovery ---- */

struct scan_ctx {
	agent *a;
	pid_t *pidfile_pids;
	int64_t mono;
};

static struct tproc *find_proc(struct tstate *ts, pid_t pid, uint64_t start)
{
	for (size_t i = 0; i < ts->nprocs; i++)
		if (ts->procs[i]->pid == pid && ts->procs[i]->start_ticks == start)
			return ts->procs[i];
	return NULL;
}

static void on_process(const struct proc_ident *id, void *arg)
{
	struct scan_ctx *sc = arg;
	agent *a = sc->a;

	for (size_t i = 0; i < a->nts; i++) {
		struct tstate *ts = &a->ts[i];
		if (!procs_selector_match(&ts->conf->match, id, sc->pidfile_pids[i]))
			continue;
		struct tproc *p = find_proc(ts, id->pid, id->start_ticks);
		if (p) {
			p->seen = true;
			continue;
		}
		if (tproc_new(ts->conf, a->cfg, id, &p) < 0)
			continue; /* gone between scan and open */
		p->seen = true;
		if (ts->nprocs == ts->cap) {
			ts->cap = ts->cap ? ts->cap * 2 : 4;
			ts->procs = xrealloc(ts->procs, ts->cap * sizeof(*ts->procs));
		}
		ts->procs[ts->nprocs++] = p;
		ts->procs_started++;
		log_info("process joined", "target=%s pid=%d comm=%s", ts->conf->name, (int)p->pid,
			 p->comm ? p->comm : "");
		agent_maybe_baseline(a, ts, p, sc->mono);
	}
}

static void remove_proc(agent *a, struct tstate *ts, size_t idx, const char *why)
{
	struct tproc *p = ts->procs[idx];
	log_info("process left", "target=%s pid=%d reason=%s samples=%llu", ts->conf->name, (int)p->pid,
		 why, (unsigned long long)p->nsamples);
	agent_drop_baseline(a, p);
	tproc_free(p);
	ts->procs[idx] = ts->procs[--ts->nprocs];
	ts->procs_exited++;
}

/* Why a process stopped matching: gone or a zombie means it exited. */
static const char *leave_reason(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return "exited";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X') ? "exited" : "no longer matches";
}

static void discover(agent *a, int64_t mono)
{
	pid_t pidfile_pids[a->nts ? a->nts : 1];
	for (size_t i = 0; i < a->nts; i++) {
		pidfile_pids[i] = 0;
		if (a->ts[i].conf->match.pidfile)
			procs_read_pidfile(a->ts[i].conf->match.pidfile, &pidfile_pids[i]);
		for (size_t j = 0; j < a->ts[i].nprocs; j++)
			a->ts[i].procs[j]->seen = false;
	}
	struct scan_ctx sc = {a, pidfile_pids, mono};
	int rc = procs_scan_run(a->scan, on_process, &sc);
	a->scans++;
	if (rc < 0) {
		log_warn("process scan failed", "error=%s", strerror(-rc));
		return;
	}
	for (size_t i = 0; i < a->nts; i++)
		for (size_t j = a->ts[i].nprocs; j-- > 0;)
			if (!a->ts[i].procs[j]->seen)
				remove_proc(a, &a->ts[i], j, leave_reason(a->ts[i].procs[j]->pid));
}

/* ---- one tick ---- */

static void tick(agent *a, int64_t mono)
{
	int64_t wall = util_wall_ms();

	pthread_mutex_lock(&a->lock);
	host_sampler_refresh(a->host);
	discover(a, mono);
	for (size_t i = 0; i < a->nts; i++) {
		struct tstate *ts = &a->ts[i];
		for (size_t j = ts->nprocs; j-- > 0;) {
			struct tproc *p = ts->procs[j];
			int rc = tproc_sample(p, ts->conf, a->host, mono, wall, a->cfg->interval_ms);
			if (rc == -ESRCH) {
				remove_proc(a, ts, j, "exited");
				continue;
			}
			if (rc < 0) {
				a->sample_errors++;
				log_warn("sample failed", "target=%s pid=%d error=%s", ts->conf->name,
					 (int)p->pid, strerror(-rc));
				continue;
			}
			a->samples++;
			tproc_eval(p, ts->conf, mono);
			agent_on_verdicts(a, ts, p, mono);
			agent_maybe_baseline(a, ts, p, mono);
		}
	}
	a->ticks++;
	a->last_tick_mono_ms = mono;
	pthread_mutex_unlock(&a->lock);
}

/* ---- reload ---- */

/*
 * Applies a configuration loaded by the reloader (on its own thread, so a
 * slow file never held up sampling), or rejects it.
 */
static void reload_apply(agent *a, int rc, struct hound_config *nc, struct config_errors errs)
{
	if (rc < 0) {
		a->reload_failures++;
		for (size_t i = 0; i < errs.n; i++)
			log_error("config error", "detail=%s", errs.msgs[i]);
		log_error("reload rejected, keeping the running config", "file=%s errors=%zu",
			  a->cfg->path, errs.n);
		config_errors_fini(&errs);
		return;
	}
	config_errors_fini(&errs);
	privs_log_missing(nc); /* dropped capabilities cannot come back: say what is lacking */
	stop_services(a, util_mono_ms() + 2000);

	pthread_mutex_lock(&a->lock);
	struct tstate *nts = xcalloc(nc->ntargets ? nc->ntargets : 1, sizeof(*nts));
	size_t kept = 0;
	for (size_t i = 0; i < nc->ntargets; i++) {
		tstate_init(&nts[i], &nc->targets[i], nc);
		struct tstate *old = agent_find_ts(a, nc->targets[i].name);
		if (!old || strcmp(old->fingerprint, nts[i].fingerprint) != 0)
			continue;
		/* Unchanged target: its processes, histories and counters carry over. */
		free(nts[i].procs);
		limit_fini(&nts[i].limits);
		limit_fini(&nts[i].core_limits);
		free(nts[i].firings);
		char *fp = nts[i].fingerprint;
		bool hb = nts[i].heap_baseline;
		nts[i] = *old;
		nts[i].conf = &nc->targets[i];
		nts[i].heap_baseline = hb;
		nts[i].fingerprint = fp;
		free(old->fingerprint);
		memset(old, 0, sizeof(*old));
		old->conf = NULL;
		kept++;
	}
	for (size_t i = 0; i < a->nts; i++)
		if (a->ts[i].conf)
			tstate_fini(a, &a->ts[i]);
	free(a->ts);
	a->ts = nts;
	a->nts = nc->ntargets;
	procs_scan_free(a->scan);
	a->scan = NULL;
	if (procs_scan_new("/proc", scan_needs(nc), &a->scan) < 0)
		log_error("cannot restart process discovery", NULL);
	config_free(a->cfg);
	a->cfg = nc;
	a->reloads++;
	pthread_mutex_unlock(&a->lock);
	start_services(a);
	log_info("config reloaded", "file=%s targets=%zu kept=%zu", nc->path, nc->ntargets, kept);
}

/* ---- the loop ---- */

static int wait_signal(int64_t until_mono_ms)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, RELOADER_SIGNAL);
	int64_t left = until_mono_ms - util_mono_ms();
	if (left < 0)
		left = 0;
	struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
	int sig = sigtimedwait(&set, NULL, &ts);
	return sig > 0 ? sig : 0;
}

int agent_run(agent *a)
{
	if (start_services(a) < 0)
		return 1;
	log_info("hound started", "version=%s config=%s targets=%zu interval_ms=%lld output=%s",
		 PACKAGE_VERSION, a->cfg->path, a->nts, (long long)a->cfg->interval_ms, a->cfg->output);
	notify_ready();
	struct reloader *rl = reloader_new(pthread_self());
	notify_watchdog_start(&a->busy_since_ms);
	int64_t next = util_mono_ms();
	while (!a->stopping) {
		int64_t start = util_mono_ms();
		int64_t lag = start - next;
		__atomic_store_n(&a->busy_since_ms, start, __ATOMIC_RELEASE);
		tick(a, start);
		__atomic_store_n(&a->busy_since_ms, 0, __ATOMIC_RELEASE);
		int64_t took = util_mono_ms() - start;
		pthread_mutex_lock(&a->lock);
		a->last_loop_ms = took;
		a->last_lag_ms = lag;
		if (took > a->max_loop_ms)
			a->max_loop_ms = took;
		if (lag > a->max_lag_ms)
			a->max_lag_ms = lag;
		pthread_mutex_unlock(&a->lock);
		next += a->cfg->interval_ms;
		if (next < util_mono_ms()) /* overran: skip missed ticks, do not burst */
			next = util_mono_ms();
		for (;;) {
			int sig = wait_signal(next);
			if (sig == 0)
				break;
			if (sig == SIGHUP) {
				log_info("SIGHUP: reloading config", "file=%s", a->cfg->path);
				int rc = reloader_request(rl, a->cfg->path);
				if (rc < 0)
					log_error("cannot start a reload", "call=pthread_create error=%s",
						  strerror(-rc));
				continue;
			}
			if (sig == RELOADER_SIGNAL) {
				struct hound_config *nc;
				struct config_errors errs;
				int rc;
				if (reloader_take(rl, &rc, &nc, &errs)) {
					notify_reloading();
					__atomic_store_n(&a->busy_since_ms, util_mono_ms(), __ATOMIC_RELEASE);
					reload_apply(a, rc, nc, errs);
					__atomic_store_n(&a->busy_since_ms, 0, __ATOMIC_RELEASE);
					notify_ready();
				}
				continue;
			}
			log_info("stopping", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			a->stopping = 1;
			break;
		}
	}
	notify_stopping();
	reloader_free(rl);
	int64_t deadline = util_mono_ms() + DRAIN_MS;
	int left = workers_stop(a->workers, deadline);
	if (left > 0)
		log_warn("captures still running at exit", "count=%d", left);
	stop_services(a, util_mono_ms() + 5000);
	notify_watchdog_stop();
	log_info("hound stopped", NULL);
	return 0;
}

const struct hound_config *agent_config(agent *a)
{
	return a->cfg;
}
