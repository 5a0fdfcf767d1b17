/* ownsampler: the values of a target's own series (Prometheus, expvar) for its rules. */
#include "agent/ownsampler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/http_client.h"
#include "lib/ownquery.h"
#include "lib/util.h"

/* A Prometheus page or expvar document larger than this is refused. */
#define OWN_MAX_BYTES ((uint64_t)64 << 20)

struct own_rule {
	struct own_selector sel;   /* parsed once (Prometheus) */
	size_t body;               /* index of its endpoint in bodies */
	bool have_prev;            /* counter: the previous raw value */
	double prev;
	int64_t prev_ms;
};

/* One fetched body per URL and tick, shared by the rules reading it. */
struct own_body {
	char *url;
	char *body;
	size_t len;
	int rc;
	char err[256];
};

struct own_sampler {
	http_client *http;
	struct own_rule *rules;   /* one per rule of the target (unused for built-in metrics) */
	size_t nrules;
	struct own_body *bodies;
	size_t nbodies;
};

static bool is_own(const struct rule_conf *r)
{
	return r->own.query != NULL;
}

bool own_sampler_needed(const struct target_conf *t)
{
	for (size_t i = 0; i < t->nrules; i++)
		if (is_own(&t->rules[i]))
			return true;
	return false;
}

/* The endpoint of rule r: its url, or the target's go.metrics / go.url + /debug/vars. */
static char *url_of(const struct target_conf *t, const struct rule_conf *r)
{
	if (r->own.url)
		return xstrdup(r->own.url);
	if (r->metric == M_PROMETHEUS)
		return xstrdup(t->go_metrics ? t->go_metrics : "");
	const char *base = t->go_url ? t->go_url : "";
	size_t n = strlen(base);
	return xasprintf("%.*s/debug/vars", (int)(n && base[n - 1] == '/' ? n - 1 : n), base);
}

int own_sampler_new(const struct target_conf *t, own_sampler **out)
{
	own_sampler *s = xcalloc(1, sizeof(*s));
	int rc = http_client_new(&s->http);

	if (rc < 0) {
		free(s);
		return rc;
	}
	s->nrules = t->nrules;
	s->rules = xcalloc(t->nrules ? t->nrules : 1, sizeof(*s->rules));
	s->bodies = xcalloc(t->nrules ? t->nrules : 1, sizeof(*s->bodies));
	for (size_t i = 0; i < t->nrules; i++) {
		const struct rule_conf *r = &t->rules[i];
		const char *why;
		if (r->metric == M_PROMETHEUS && is_own(r))
			ownquery_parse_selector(r->own.query, &s->rules[i].sel, &why); /* checked at load */
		if (!is_own(r))
			continue;
		char *u = url_of(t, r);
		size_t b = 0;
		while (b < s->nbodies && strcmp(s->bodies[b].url, u) != 0)
			b++;
		if (b < s->nbodies)
			free(u);
		else
			s->bodies[s->nbodies++].url = u;
		s->rules[i].body = b;
	}
	*out = s;
	return 0;
}

void own_sampler_free(own_sampler *s)
{
	if (!s)
		return;
	for (size_t b = 0; b < s->nbodies; b++) {
		free(s->bodies[b].url);
		free(s->bodies[b].body);
	}
	free(s->bodies);
	free(s->rules);
	http_client_free(s->http);
	free(s);
}

static void fetch(own_sampler *s, struct own_body *b, int64_t timeout_ms)
{
	struct http_request req = {
	    .method = "GET",
	    .url = b->url,
	    .body_fd = -1,
	    .resp_fd = -1,
	    .max_body = OWN_MAX_BYTES,
	    .connect_timeout_ms = timeout_ms < 1000 ? timeout_ms : 1000,
	    .timeout_ms = timeout_ms,
	};
	struct http_response resp = {0};

	free(b->body);
	b->body = NULL;
	b->len = 0;
	b->rc = http_request_do(s->http, &req, &resp);
	if (b->rc < 0) {
		snprintf(b->err, sizeof(b->err), "%s", resp.err[0] ? resp.err : strerror(-b->rc));
	} else if (resp.status != 200) {
		b->rc = -EPROTO;
		snprintf(b->err, sizeof(b->err), "GET %s: HTTP %ld", b->url, resp.status);
	} else {
		b->body = resp.body;
		b->len = resp.body_len;
		resp.body = NULL;
	}
	http_response_fini(&resp);
}

int own_sampler_sample(own_sampler *s, const struct target_conf *t, int64_t mono_ms,
		       int64_t interval_ms, double *v, bool *valid, bool *rate, char *err,
		       size_t errlen)
{
	/* Half the interval, as for the Go endpoints: a slow target never stalls the loop. */
	int64_t timeout = interval_ms / 2 < 200 ? 200 : interval_ms / 2 > 5000 ? 5000 : interval_ms / 2;
	int rc = 0;

	err[0] = '\0';
	for (size_t b = 0; b < s->nbodies; b++)
		fetch(s, &s->bodies[b], timeout);
	for (size_t i = 0; i < t->nrules && i < s->nrules; i++) {
		const struct rule_conf *r = &t->rules[i];
		struct own_rule *o = &s->rules[i];
		char why[320] = "";
		int e = 0;

		valid[i] = false;
		if (!is_own(r))
			continue;
		struct own_body *b = &s->bodies[o->body];
		const char *url = b->url;
		double x = 0;
		bool counter = false;
		if (b->rc < 0) {
			e = b->rc;
			snprintf(why, sizeof(why), "%s", b->err);
		} else if (r->metric == M_PROMETHEUS) {
			if (ownquery_prom_value(b->body, b->len, &o->sel, &x, &counter) == 0) {
				e = -ENOENT;
				snprintf(why, sizeof(why), "series %s not found at %s", r->own.query, url);
			}
		} else {
			char jerr[200];
			e = ownquery_expvar_value(b->body, b->len, r->own.query, &x, jerr, sizeof(jerr));
			if (e < 0)
				snprintf(why, sizeof(why), "expvar %s at %s: %s", r->own.query, url, jerr);
		}
		if (e < 0) {
			o->have_prev = false; /* a series that comes back starts its rate afresh */
			size_t used = strlen(err);
			/* Every rule's problem, so one does not hide another in the status. */
			if (used + 1 < errlen)
				snprintf(err + used, errlen - used, "%srule %s: %s", used ? "; " : "",
					 r->name, why);
			if (rc == 0)
				rc = e;
			continue;
		}
		rate[i] = counter;
		if (!counter) {
			v[i] = x;
			valid[i] = true;
			continue;
		}
		/* A counter: its rate since the previous sample; a reset restarts it. */
		if (o->have_prev && x >= o->prev && mono_ms > o->prev_ms) {
			v[i] = (x - o->prev) * 1000.0 / (double)(mono_ms - o->prev_ms);
			valid[i] = true;
		}
		o->have_prev = true;
		o->prev = x;
		o->prev_ms = mono_ms;
	}
	return rc;
}
