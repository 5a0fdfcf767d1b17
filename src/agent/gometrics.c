/*
 * gometrics: samples a Go program's runtime through the endpoints it already
 * serves. /debug/vars (a few KiB, capped at GO_VARS_MAX_BYTES) goes to the
 * goparse scanner; the Prometheus page is counted as it streams, never held.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/gometrics.h"
#include "lib/http_client.h"
#include "lib/util.h"


/* ---- the sampler ---- */

struct go_sampler {
	http_client *http;
	char *vars_url, *goroutine_url, *metrics_url;
	bool have_prev;
	uint64_t prev_num_gc;
	uint64_t start_ns;     /* the process's start, Unix ns; 0 when unknown */
	struct gc_cpu_window gc_cpu;
	bool have_goroutines;
	double goroutines;
	int64_t goroutines_ms; /* mono time of the last goroutine profile fetch */
	uint64_t errors;
	int gogc;              /* GOGC percent, -1 for off */
	struct go_memstats ms;
};

static bool http_url(const char *u)
{
	return u && (util_str_has_prefix(u, "http://") || util_str_has_prefix(u, "https://"));
}

int go_sampler_new(const char *go_url, const char *metrics_url, go_sampler **out)
{
	*out = NULL;
	if (!http_url(go_url) || (metrics_url && !http_url(metrics_url)))
		return -EINVAL;
	go_sampler *g = xcalloc(1, sizeof(*g));
	int rc = http_client_new(&g->http);
	if (rc < 0) {
		free(g);
		return rc;
	}
	size_t n = strlen(go_url);
	while (n && go_url[n - 1] == '/')
		n--;
	g->vars_url = xasprintf("%.*s/debug/vars", (int)n, go_url);
	g->goroutine_url = xasprintf("%.*s/debug/pprof/goroutine?debug=1", (int)n, go_url);
	g->metrics_url = metrics_url ? xstrdup(metrics_url) : NULL;
	g->gogc = 100;
	*out = g;
	return 0;
}

void go_sampler_set_start(go_sampler *g, int64_t start_wall_ms)
{
	g->start_ns = start_wall_ms > 0 ? (uint64_t)start_wall_ms * 1000000u : 0;
}

void go_sampler_set_gogc(go_sampler *g, int gogc)
{
	g->gogc = gogc;
}

void go_sampler_free(go_sampler *g)
{
	if (!g)
		return;
	http_client_free(g->http);
	free(g->vars_url);
	free(g->goroutine_url);
	free(g->metrics_url);
	free(g);
}

uint64_t go_sampler_errors(const go_sampler *g)
{
	return g->errors;
}

static int on_prom(const void *chunk, size_t n, void *arg)
{
	prom_counter_feed(arg, chunk, n);
	return 0;
}

/* Keeps only the first line of a goroutine profile, then stops the transfer. */
struct first_line {
	char buf[128];
	size_t len;
	bool done;
};

static int on_first_line(const void *chunk, size_t n, void *arg)
{
	struct first_line *fl = arg;
	const char *c = chunk;
	for (size_t i = 0; i < n && !fl->done; i++) {
		if (c[i] == '\n' || fl->len + 1 >= sizeof(fl->buf))
			fl->done = true;
		else
			fl->buf[fl->len++] = c[i];
	}
	fl->buf[fl->len] = '\0';
	return fl->done; /* nonzero aborts: the rest is not needed */
}

/*
 * One GET. The body goes to sink when given (else resp->body). A transfer
 * the sink aborted on purpose counts as success.
 */
static int get(go_sampler *g, const char *url, uint64_t max, int64_t timeout_ms,
	       int (*sink)(const void *, size_t, void *), void *arg, struct http_response *resp,
	       char *err, size_t errlen)
{
	struct http_request req = {
		.method = "GET",
		.url = url,
		.body_fd = -1,
		.resp_fd = -1,
		.max_body = max,
		.connect_timeout_ms = timeout_ms < 1000 ? timeout_ms : 1000,
		.timeout_ms = timeout_ms,
		.on_body = sink,
		.on_body_arg = arg,
	};
	int rc = http_request_do(g->http, &req, resp);
	if (rc == -ECANCELED && sink == on_first_line && ((struct first_line *)arg)->done)
		rc = 0;
	if (rc < 0) {
		g->errors++;
		return util_err(err, errlen, rc, "%s", resp->err[0] ? resp->err : strerror(-rc));
	}
	if (resp->status != 200 && !(rc == 0 && sink == on_first_line && resp->status == 0)) {
		g->errors++;
		return util_err(err, errlen, resp->status == 404 ? -ENOENT : -EPROTO, "GET %s: HTTP %ld",
			    url, resp->status);
	}
	/* A client without streaming support buffers the body: feed it now. */
	if (sink && resp->body) {
		sink(resp->body, resp->body_len, arg);
		free(resp->body);
		resp->body = NULL;
	}
	return 0;
}

static void set(struct proc_sample *out, enum metric_id id, double v)
{
	out->v[id] = v;
	out->valid |= METRIC_BIT(id);
}

static int sample_vars(go_sampler *g, uint64_t need, int64_t timeout_ms, int64_t interval_ms,
		       struct proc_sample *out, char *err, size_t errlen)
{
	struct http_response resp;
	int rc = get(g, g->vars_url, GO_VARS_MAX_BYTES, timeout_ms, NULL, NULL, &resp, err, errlen);
	if (rc == 0) {
		char perr[160];
		rc = gometrics_parse_vars(resp.body, resp.body_len, &g->ms, perr, sizeof(perr));
		if (rc < 0) {
			g->errors++;
			util_err(err, errlen, rc, "GET %s: %s", g->vars_url, perr);
		}
	}
	http_response_fini(&resp);
	if (rc < 0)
		return rc;
	const struct go_memstats *m = &g->ms;
	if (m->have & GO_MS_HEAP_INUSE)
		set(out, M_HEAP_INUSE, (double)m->heap_inuse);
	if (m->have & GO_MS_HEAP_ALLOC)
		set(out, M_HEAP_ALLOC, (double)m->heap_alloc);
	if (m->have & GO_MS_HEAP_RELEASED)
		set(out, M_HEAP_RELEASED, (double)m->heap_released);
	double live = gometrics_heap_live(m, g->gogc);
	if (live >= 0)
		set(out, M_HEAP_LIVE, live);
	int64_t wall = out->wall_ms ? out->wall_ms : util_wall_ms();
	/* The recent share of CPU in GC, from the runtime's cumulative GCCPUFraction. */
	if (m->have & GO_MS_GC_CPU)
		set(out, M_GC_CPU,
		    100.0 * gometrics_gc_cpu(&g->gc_cpu, m, g->start_ns, (uint64_t)wall * 1000000u));
	if ((m->have & GO_MS_PAUSE) && (m->have & GO_MS_NUM_GC)) {
		uint64_t since = (uint64_t)(wall - interval_ms) * 1000000u;
		set(out, M_GC_PAUSE, gometrics_gc_pause(m, g->have_prev, g->prev_num_gc, since));
		g->have_prev = true;
		g->prev_num_gc = m->num_gc;
	}
	UNUSED(need);
	return 0;
}

static int sample_metrics(go_sampler *g, uint64_t need, int64_t timeout_ms,
			  struct proc_sample *out, char *err, size_t errlen)
{
	struct prom_counter pc;
	struct http_response resp;
	prom_counter_init(&pc);
	int rc = get(g, g->metrics_url, GO_METRICS_MAX_BYTES, timeout_ms, on_prom, &pc, &resp, err,
		     errlen);
	http_response_fini(&resp);
	if (rc < 0)
		return rc;
	prom_counter_finish(&pc);
	if (need & METRIC_BIT(M_SERIES))
		set(out, M_SERIES, (double)pc.series);
	if ((need & METRIC_BIT(M_GOROUTINES)) && pc.have_goroutines)
		set(out, M_GOROUTINES, pc.goroutines);
	return 0;
}

static int sample_goroutine_profile(go_sampler *g, int64_t timeout_ms, struct proc_sample *out,
				    char *err, size_t errlen)
{
	int64_t now = out->mono_ms ? out->mono_ms : util_mono_ms();
	if (g->have_goroutines && now - g->goroutines_ms < GO_GOROUTINE_PROFILE_EVERY_MS) {
		set(out, M_GOROUTINES, g->goroutines);
		return 0;
	}
	struct first_line fl = { .len = 0 };
	struct http_response resp;
	/* The header is all we need; the cap only matters to a client that cannot stream. */
	int rc = get(g, g->goroutine_url, (uint64_t)64 << 20, timeout_ms, on_first_line, &fl, &resp,
		     err, errlen);
	http_response_fini(&resp);
	if (rc < 0)
		return rc;
	unsigned long long total;
	if (sscanf(fl.buf, "goroutine profile: total %llu", &total) != 1) {
		g->errors++;
		return util_err(err, errlen, -EPROTO, "GET %s: no \"goroutine profile: total N\" header",
			    g->goroutine_url);
	}
	g->goroutines = (double)total;
	g->have_goroutines = true;
	g->goroutines_ms = now;
	set(out, M_GOROUTINES, g->goroutines);
	return 0;
}

int go_sampler_sample(go_sampler *g, uint64_t need_mask, int64_t interval_ms,
		      struct proc_sample *out, char *err, size_t errlen)
{
	const uint64_t vars_mask = METRIC_BIT(M_HEAP_INUSE) | METRIC_BIT(M_HEAP_ALLOC) |
				   METRIC_BIT(M_HEAP_RELEASED) | METRIC_BIT(M_GC_PAUSE) |
				   METRIC_BIT(M_GC_CPU) | METRIC_BIT(M_HEAP_LIVE);
	int64_t timeout = interval_ms / 2;
	int first = 0, rc;

	timeout = timeout < 200 ? 200 : timeout > 5000 ? 5000 : timeout;
	out->valid &= ~GO_METRICS_MASK;
	if (err && errlen)
		err[0] = '\0';
	if (need_mask & vars_mask) {
		rc = sample_vars(g, need_mask, timeout, interval_ms, out, err, errlen);
		first = rc;
	}
	bool from_metrics = g->metrics_url != NULL;
	uint64_t prom_need = need_mask & (METRIC_BIT(M_SERIES) |
					  (from_metrics ? METRIC_BIT(M_GOROUTINES) : 0));
	if (prom_need && g->metrics_url) {
		char *e = first ? NULL : err;
		rc = sample_metrics(g, prom_need, timeout, out, e, e ? errlen : 0);
		if (!first)
			first = rc;
	}
	bool want_g = need_mask & METRIC_BIT(M_GOROUTINES);
	if (want_g && !(out->valid & METRIC_BIT(M_GOROUTINES))) {
		/* no go.metrics, or it has no go_goroutines: fall back to the profile header */
		char *e = first ? NULL : err;
		rc = sample_goroutine_profile(g, timeout, out, e, e ? errlen : 0);
		if (!first)
			first = rc;
	}
	if (first == 0 && (need_mask & METRIC_BIT(M_SERIES)) && !g->metrics_url)
		first = util_err(err, errlen, -EINVAL, "metric series needs go.metrics");
	return first;
}
