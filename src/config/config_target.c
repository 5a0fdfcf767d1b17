/* config_target: the targets section (selectors, go, limits, flight recorder). */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "lib/units.h"
#include "lib/util.h"

static void bad(struct cfg *x, const char *key, yaml_node_t *n, const char *msg)
{
	size_t m = key ? cfg_push(x, key) : x->pathlen;
	cfg_error(x, n, "%s", msg);
	cfg_pop(x, m);
}

static bool url_ok(const char *s)
{
	return util_str_has_prefix(s, "http://") || util_str_has_prefix(s, "https://");
}

void cfg_free_target(struct target_conf *t)
{
	struct selector_conf *s = &t->match;

	free(t->name);
	free(s->pidfile);
	free(s->comm);
	if (s->cmdline)
		regfree(&s->cmdline_re);
	free(s->cmdline);
	free(s->exe);
	if (s->cgroup)
		regfree(&s->cgroup_re);
	free(s->cgroup);
	free(s->user);
	free(t->go_url);
	free(t->go_metrics);
	for (size_t i = 0; i < t->nrules; i++) {
		free(t->rules[i].name);
		free(t->rules[i].own.query);
		free(t->rules[i].own.url);
		capture_list_fini(&t->rules[i].capture);
	}
	free(t->rules);
}

/* Compiles an ERE; keeps *src only when it compiles, so free knows what to regfree. */
static void regex(struct cfg *x, const char *key, yaml_node_t *n, char **src, regex_t *re)
{
	char *s = NULL, msg[256];
	int r;

	if (cfg_str(x, key, n, &s) <= 0)
		return;
	r = regcomp(re, s, REG_EXTENDED | REG_NOSUB);
	if (r != 0) {
		size_t m = cfg_push(x, key);
		regerror(r, re, msg, sizeof(msg));
		cfg_error(x, n, "bad regular expression '%s': %s", s, msg);
		cfg_pop(x, m);
		free(s);
		return;
	}
	*src = s;
}

enum { SEL_PID, SEL_PIDFILE, SEL_COMM, SEL_CMDLINE, SEL_EXE, SEL_CGROUP, SEL_USER, SEL_N };
static const char *const match_keys[SEL_N] = {"pid", "pidfile", "comm", "cmdline",
					      "exe", "cgroup",	"user"};

static void match(struct cfg *x, yaml_node_t *n, struct selector_conf *s)
{
	yaml_node_t *v[SEL_N];
	size_t mark = cfg_push(x, "match");
	bool any = false;
	int pid;

	if (!cfg_map(x, n, match_keys, SEL_N, v))
		goto out;
	for (int i = 0; i < SEL_N; i++)
		any |= v[i] != NULL;
	if (!any)
		cfg_error(x, n,
			  "needs at least one selector: pid, pidfile, comm, cmdline, exe, cgroup "
			  "or user");
	if (cfg_int(x, "pid", v[SEL_PID], &pid) > 0) {
		if (pid < 1)
			bad(x, "pid", v[SEL_PID], "must be greater than 0");
		s->has_pid = true;
		s->pid = (pid_t)pid;
	}
	if (cfg_str(x, "pidfile", v[SEL_PIDFILE], &s->pidfile) > 0 && !s->pidfile[0])
		bad(x, "pidfile", v[SEL_PIDFILE], "must not be empty");
	if (cfg_str(x, "comm", v[SEL_COMM], &s->comm) > 0 && (!s->comm[0] || strlen(s->comm) > 15))
		bad(x, "comm", v[SEL_COMM],
		    "must be 1 to 15 characters (the kernel truncates /proc/PID/comm to 15)");
	regex(x, "cmdline", v[SEL_CMDLINE], &s->cmdline, &s->cmdline_re);
	if (cfg_str(x, "exe", v[SEL_EXE], &s->exe) > 0 && s->exe[0] != '/')
		bad(x, "exe", v[SEL_EXE],
		    "must be an absolute path (it is compared with /proc/PID/exe)");
	regex(x, "cgroup", v[SEL_CGROUP], &s->cgroup, &s->cgroup_re);
	if (cfg_str(x, "user", v[SEL_USER], &s->user) > 0) {
		int uid;
		struct passwd *pw;
		if (units_parse_int(s->user, &uid, NULL) == 0) {
			s->uid = (uid_t)uid;
		} else if ((pw = getpwnam(s->user)) != NULL) {
			s->uid = pw->pw_uid;
		} else {
			size_t m = cfg_push(x, "user");
			cfg_error(x, v[SEL_USER], "unknown user '%s'", s->user);
			cfg_pop(x, m);
		}
	}
out:
	cfg_pop(x, mark);
}

static const char *const go_keys[] = {"url", "metrics"};

static void go(struct cfg *x, yaml_node_t *n, struct target_conf *t)
{
	yaml_node_t *v[2];
	size_t mark = cfg_push(x, "go");

	if (!cfg_map(x, n, go_keys, 2, v))
		goto out;
	if (!v[0])
		cfg_missing(x, n, "url");
	else if (cfg_str(x, "url", v[0], &t->go_url) > 0 && !url_ok(t->go_url))
		bad(x, "url", v[0], "expected a URL starting with http:// or https://");
	if (cfg_str(x, "metrics", v[1], &t->go_metrics) > 0 && !url_ok(t->go_metrics))
		bad(x, "metrics", v[1], "expected a URL starting with http:// or https://");
	/* Rules check go_url to decide what applies; a bad go: already reported. */
	if (!t->go_url && v[0])
		t->go_url = xstrdup("");
out:
	cfg_pop(x, mark);
}

static const char *const limits_keys[] = {"max_captures", "window", "max_cores"};
static const char *const flight_keys[] = {"rate", "keep"};

static void limits(struct cfg *x, yaml_node_t *n, struct target_conf *t)
{
	yaml_node_t *v[3];
	size_t mark = cfg_push(x, "limits");

	if (cfg_map(x, n, limits_keys, 3, v)) {
		cfg_int(x, "max_captures", v[0], &t->max_captures);
		cfg_int(x, "max_cores", v[2], &t->max_cores);
		if (cfg_duration(x, "window", v[1], &t->limit_window_ms) > 0 &&
		    t->limit_window_ms < 1000)
			bad(x, "window", v[1], "must be at least 1s");
	}
	cfg_pop(x, mark);
}

static int p_rate(const char *s, void *o, const char **why)
{
	return units_parse_rate(s, o, why);
}

static void flight(struct cfg *x, yaml_node_t *n, struct flight_recorder_conf *f)
{
	yaml_node_t *v[2];
	size_t mark = cfg_push(x, "flight_recorder");

	f->enabled = true;
	if (cfg_map(x, n, flight_keys, 2, v)) {
		if (cfg_typed(x, "rate", v[0], "a rate like 19Hz", p_rate, &f->rate_hz) > 0 &&
		    (f->rate_hz < 1 || f->rate_hz > 1000))
			bad(x, "rate", v[0], "must be between 1Hz and 1000Hz");
		if (cfg_duration(x, "keep", v[1], &f->keep_ms) > 0 &&
		    (f->keep_ms < 1000 || f->keep_ms > 600000))
			bad(x, "keep", v[1], "must be between 1s and 10m");
	}
	cfg_pop(x, mark);
}

static const char *const malloc_keys[] = {"enabled", "sample", "budget"};

static void malloc_tracking(struct cfg *x, yaml_node_t *n, struct malloc_conf *m)
{
	yaml_node_t *v[3];
	size_t mark = cfg_push(x, "malloc");
	bool on = true;
	double pct = 0;

	if (cfg_map(x, n, malloc_keys, 3, v)) {
		if (cfg_bool(x, "enabled", v[0], &on) > 0)
			m->disabled = !on;
		if (cfg_size(x, "sample", v[1], &m->sample_bytes) > 0 &&
		    (m->sample_bytes < 4096 || m->sample_bytes > (1ull << 30)))
			bad(x, "sample", v[1], "must be between 4KiB and 1GiB");
		if (cfg_percent(x, "budget", v[2], &pct) > 0) {
			if (pct <= 0 || pct > 100)
				bad(x, "budget", v[2], "must be above 0% and at most 100%");
			else
				m->budget = pct / 100.0;
		}
	}
	cfg_pop(x, mark);
}

enum { T_NAME, T_MATCH, T_GO, T_RULES, T_LIMITS, T_FLIGHT, T_JVM, T_MALLOC, T_N };
static const char *const target_keys[T_N] = {"name",   "match",	"go",
					     "rules",  "limits", "flight_recorder",
					     "jvm",    "malloc"};

static void target(struct cfg *x, yaml_node_t *n, struct target_conf *t)
{
	struct hound_config *c = x->c;
	yaml_node_t *v[T_N];
	yaml_node_item_t *items;
	long cnt;

	t->max_captures = 6;
	t->limit_window_ms = 3600000;
	t->max_cores = 1; /* a core is large and freezes the target: rare by default */
	t->flight_recorder.rate_hz = 19;
	t->flight_recorder.keep_ms = 30000;
	t->pos.line = (unsigned)n->start_mark.line + 1;
	t->pos.column = (unsigned)n->start_mark.column + 1;
	if (!cfg_map(x, n, target_keys, T_N, v))
		return;
	if (!v[T_NAME]) {
		cfg_missing(x, n, "name");
	} else if (cfg_str(x, "name", v[T_NAME], &t->name) > 0) {
		if (!cfg_name_ok(t->name)) {
			size_t m = cfg_push(x, "name");
			cfg_error(x, v[T_NAME],
				  "'%s' must match [a-z0-9][a-z0-9_-]* (at most 63 characters)",
				  t->name);
			cfg_pop(x, m);
		}
		for (struct target_conf *o = c->targets; o < t; o++) {
			if (o->name && !strcmp(o->name, t->name)) {
				size_t m = cfg_push(x, "name");
				cfg_error(x, v[T_NAME],
					  "duplicate target name '%s' (first at line %u)", t->name,
					  o->pos.line);
				cfg_pop(x, m);
				break;
			}
		}
	}
	if (!v[T_MATCH])
		cfg_missing(x, n, "match");
	else
		match(x, v[T_MATCH], &t->match);
	if (v[T_GO])
		go(x, v[T_GO], t);
	if (v[T_LIMITS])
		limits(x, v[T_LIMITS], t);
	if (v[T_JVM]) {
		bool on = true;
		if (cfg_bool(x, "jvm", v[T_JVM], &on) > 0) {
			t->jvm_off = !on;
			t->jvm_on = on;
		}
	}
	if (v[T_FLIGHT])
		flight(x, v[T_FLIGHT], &t->flight_recorder);
	if (v[T_MALLOC])
		malloc_tracking(x, v[T_MALLOC], &t->malloc);
	if (!v[T_RULES])
		return;
	size_t mark = cfg_push(x, "rules");
	cnt = cfg_seq(x, v[T_RULES], &items);
	if (cnt > CFG_MAX_RULES) {
		cfg_error(x, v[T_RULES], "at most %d rules per target", CFG_MAX_RULES);
		cnt = 0;
	}
	if (cnt > 0)
		t->rules = xcalloc((size_t)cnt, sizeof(*t->rules));
	for (long i = 0; i < cnt; i++) {
		yaml_node_t *item = cfg_node(x, items[i]);
		size_t m;
		if (!item)
			break;
		m = cfg_push_index(x, (size_t)i);
		cfg_rule(x, item, t, &t->rules[t->nrules++]);
		cfg_pop(x, m);
	}
	cfg_pop(x, mark);
}

void cfg_targets(struct cfg *x, yaml_node_t *n)
{
	struct hound_config *c = x->c;
	yaml_node_item_t *items;
	size_t mark = cfg_push(x, "targets");
	long cnt = cfg_seq(x, n, &items);

	if (cnt > CFG_MAX_TARGETS) {
		cfg_error(x, n, "at most %d targets", CFG_MAX_TARGETS);
		cnt = 0;
	}
	if (cnt > 0)
		c->targets = xcalloc((size_t)cnt, sizeof(*c->targets));
	for (long i = 0; i < cnt; i++) {
		yaml_node_t *item = cfg_node(x, items[i]);
		size_t m;
		if (!item)
			break;
		m = cfg_push_index(x, (size_t)i);
		target(x, item, &c->targets[c->ntargets++]);
		cfg_pop(x, m);
	}
	cfg_pop(x, mark);
}

const struct target_conf *config_find_target(const struct hound_config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->ntargets; i++)
		if (c->targets[i].name && strcmp(c->targets[i].name, name) == 0)
			return &c->targets[i];
	return NULL;
}
