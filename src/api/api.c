/* api: the HTTP API server (libmicrohttpd): routing, authentication, body limits. */
#include "api/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api_gate.h"
#include "api/api_int.h"
#include "api/api_mhd.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/util.h"

/*
 * Threading: the gate (api_gate.c) accepts connections and hands one to MHD
 * only once its request head is complete; it answers /healthz itself. MHD
 * runs a small pool of polling threads (epoll); sockets are non-blocking, so
 * a client that sends or reads slowly costs a connection slot and some
 * memory, never a thread. A connection serves one request (Connection:
 * close), so no idle keep-alive connection holds a slot; a body must arrive
 * within BODY_MS, and a client address holds at most PER_CLIENT slots. A
 * handler runs only once its whole request is in, and the agent lock is
 * taken only inside the agent_* calls, briefly.
 */
#define POOL_THREADS   2
#define CONN_LIMIT     256
#define CONN_TIMEOUT_S 10
#define PER_CLIENT     32
#define BODY_MS        10000

/* libmicrohttpd, loaded by the first api_server_start (before any request can arrive). */
static const struct api_mhd *mhd;

/* ---- per-request state ---- */

struct api_req {
	enum api_handler h;
	bool post;
	bool too_big, no_room;
	char *body;
	size_t len, cap;
	int64_t start_ms;
};

static enum api_handler route_of(const char *url)
{
	static const enum api_handler hs[] = {H_HEALTHZ, H_METRICS, H_TARGETS, H_CAPTURES,
					      H_ALERTS};
	for (size_t i = 0; i < ARRAY_LEN(hs); i++)
		if (!strcmp(url, api_handler_path(hs[i])))
			return hs[i];
	if (util_str_has_prefix(url, "/v1/captures/"))
		return H_CAPTURE_ITEM;
	return H_OTHER;
}

/* Compares digests, so the time taken says nothing about the token. */
static bool token_ok(const char *given, size_t glen, const char *token)
{
	struct sha256_ctx c;
	uint8_t g[32], t[32];
	unsigned char diff = 0;

	sha256_init(&c);
	sha256_update(&c, given, glen);
	sha256_final(&c, g);
	sha256_init(&c);
	sha256_update(&c, token, strlen(token));
	sha256_final(&c, t);
	for (size_t i = 0; i < sizeof(g); i++)
		diff |= g[i] ^ t[i];
	return diff == 0;
}

/* 0 when the request may proceed, else the status of the refusal (reply filled). */
static int check_auth(struct api_server *s, struct MHD_Connection *c, struct api_reply *r)
{
	const char *h;
	if (!s->token)
		return 0;
	h = mhd->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		api_reply_error(r, 401, "missing bearer token (Authorization: Bearer TOKEN)");
		return 401;
	}
	h += 7;
	while (*h == ' ')
		h++;
	if (!token_ok(h, strlen(h), s->token)) {
		api_reply_error(r, 403, "wrong bearer token");
		return 403;
	}
	return 0;
}

/* Checks done on the headers, before any body byte is read. 0: go on. */
static int precheck(struct api_server *s, struct MHD_Connection *c, struct api_req *q,
		    const char *url, const char *method, struct api_reply *r)
{
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	q->post = !strcmp(method, "POST");
	/*
	 * Every /v1/ path, whatever the method and even when it does not exist,
	 * answers only to the token: command lines and bundles are sensitive, and
	 * an unauthenticated caller learns nothing, not even which paths exist.
	 * /healthz and /metrics stay open for probes and scrapers.
	 */
	if (!strncmp(url, "/v1/", 4) || !strcmp(url, "/v1")) {
		int st = check_auth(s, c, r);
		if (st)
			return st;
	}
	switch (q->h) {
	case H_OTHER:
		api_reply_error(r, 404,
				"no such endpoint (try /healthz, /metrics, /v1/targets, "
				"/v1/captures, /v1/alerts)");
		return 404;
	case H_CAPTURES:
		if (!get && !q->post) {
			r->allow = "GET, HEAD, POST";
			api_reply_error(r, 405, "method %s not allowed here", method);
			return 405;
		}
		break;
	case H_ALERTS:
		if (!q->post) {
			r->allow = "POST";
			api_reply_error(r, 405, "method %.16s not allowed here", method);
			return 405;
		}
		break;
	default:
		if (!get) {
			r->allow = "GET, HEAD";
			api_reply_error(r, 405, "method %.16s not allowed here", method);
			return 405;
		}
	}
	if (!q->post)
		return 0;
	const char *cl =
	    mhd->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > API_BODY_MAX) {
		api_reply_error(r, 413, "body over %d bytes", API_BODY_MAX);
		return 413;
	}
	return 0;
}

/* Buffers one chunk of a POST body, within the per-request and global limits. */
static void take_body(struct api_server *s, struct api_req *q, const char *data, size_t n)
{
	if (q->too_big || q->no_room)
		return;
	if (q->len + n > API_BODY_MAX) {
		q->too_big = true;
		return;
	}
	if (q->len + n + 1 > q->cap) {
		size_t want = q->cap ? q->cap : 4096;
		while (want < q->len + n + 1)
			want *= 2;
		if (want > API_BODY_MAX + 1)
			want = API_BODY_MAX + 1;
		pthread_mutex_lock(&s->lock);
		bool room = s->body_bytes + (want - q->cap) <= API_BODY_TOTAL;
		if (room)
			s->body_bytes += want - q->cap;
		pthread_mutex_unlock(&s->lock);
		if (!room) {
			q->no_room = true;
			return;
		}
		q->body = xrealloc(q->body, want);
		q->cap = want;
	}
	memcpy(q->body + q->len, data, n);
	q->len += n;
	q->body[q->len] = '\0';
}

static enum MHD_Result send_reply(struct api_server *s, struct MHD_Connection *c, struct api_req *q,
				  struct api_reply *r)
{
	struct MHD_Response *resp;
	char ra[16];
	enum MHD_Result ret;

	if (!r->body && !r->has_fd)
		api_reply_error(r, 500, "no answer");
	if (r->has_fd) /* MHD reads the file as the client takes it, and closes it */
		resp = mhd->create_response_from_fd(r->len, r->fd);
	else
		resp = mhd->create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		if (r->has_fd)
			close(r->fd);
		free(r->body);
		return MHD_NO;
	}
	if (r->filename) {
		char cd[300];
		snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", r->filename);
		mhd->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, cd);
	}
	mhd->add_response_header(resp, "X-Content-Type-Options", "nosniff");
	mhd->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	mhd->add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	mhd->add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (r->allow)
		mhd->add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->status == 401)
		mhd->add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"hound\"");
	if (r->retry_after_s > 0) {
		snprintf(ra, sizeof(ra), "%d", r->retry_after_s);
		mhd->add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	ret = mhd->queue_response(c, (unsigned)r->status, resp);
	mhd->destroy_response(resp);
	pthread_mutex_lock(&s->lock);
	s->requests[q->h][api_code_index(r->status)]++;
	pthread_mutex_unlock(&s->lock);
	log_debug("api request", "path=%s status=%d ms=%lld", api_handler_path(q->h), r->status,
		  (long long)(util_mono_ms() - q->start_ms));
	return ret;
}

static void dispatch(struct api_server *s, struct api_req *q, const char *url, struct api_reply *r)
{
	switch (q->h) {
	case H_HEALTHZ:
		api_get_healthz(s, r);
		break;
	case H_METRICS:
		api_get_metrics(s, r);
		break;
	case H_TARGETS:
		api_get_targets(s, r);
		break;
	case H_CAPTURES:
		if (q->post)
			api_post_captures(s, q->body ? q->body : "", q->len, r);
		else
			api_get_captures(s, r);
		break;
	case H_ALERTS:
		api_post_alerts(s, q->body ? q->body : "", q->len, r);
		break;
	case H_CAPTURE_ITEM:
		api_get_capture_item(s, url + strlen("/v1/captures/"), r);
		break;
	default:
		api_reply_error(r, 404, "no such endpoint");
		break;
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api_server *s = cls;
	struct api_req *q = *con_cls;
	struct api_reply r = {0};
	(void)version;

	if (!q) {
		q = xcalloc(1, sizeof(*q));
		q->h = route_of(url);
		q->start_ms = util_mono_ms();
		*con_cls = q;
		if (precheck(s, c, q, url, method, &r))
			return send_reply(s, c, q, &r);
		if (q->post)
			return MHD_YES; /* the body follows */
	} else if (*upload_data_size) {
		/* a body trickled byte by byte must not hold its slot for ever */
		if (util_mono_ms() - q->start_ms > BODY_MS) {
			log_debug("api request body too slow: connection closed", "path=%s ms=%d",
				  api_handler_path(q->h), BODY_MS);
			return MHD_NO;
		}
		take_body(s, q, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (q->too_big)
		api_reply_error(&r, 413, "body over %d bytes", API_BODY_MAX);
	else if (q->no_room)
		api_reply_error(&r, 503, "too many request bodies in flight; retry");
	else
		dispatch(s, q, url, &r);
	if (!r.content_type)
		r.content_type = "application/json";
	return send_reply(s, c, q, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct api_req *q = *con_cls;
	(void)c;
	(void)toe;
	if (!q)
		return;
	pthread_mutex_lock(&s->lock);
	s->body_bytes -= q->cap;
	pthread_mutex_unlock(&s->lock);
	free(q->body);
	free(q);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http server", "detail=%s", msg);
}

/* The gate hands over a connection whose request head is complete. */
static void gate_handoff(void *ctx, int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct api_server *s = ctx;
	/* MHD owns fd from here, closing it itself when it refuses it */
	if (mhd->add_connection(s->daemon, fd, sa, salen) != MHD_YES)
		log_debug("http server refused a connection", "error=%s", strerror(errno));
}

/* /healthz, answered by the gate: probes never wait for a connection slot. */
static size_t gate_healthz(void *ctx, int head_only, char *buf, size_t len)
{
	struct api_server *s = ctx;
	struct api_reply r = {0};
	api_get_healthz(s, &r);
	int n = snprintf(buf, len,
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			 "Cache-Control: no-store\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%.*s",
			 r.status, r.status == 200 ? "OK" : "Service Unavailable", r.len,
			 head_only ? 0 : (int)r.len, r.body ? r.body : "");
	free(r.body);
	pthread_mutex_lock(&s->lock);
	s->requests[H_HEALTHZ][api_code_index(r.status)]++;
	pthread_mutex_unlock(&s->lock);
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* Binds HOST:PORT, [V6]:PORT or :PORT (every interface). Returns the fd or -errno. */
static int open_listener(const char *listen_addr)
{
	char host[256], port[8];
	const char *colon;
	struct addrinfo hints = {0}, *ai = NULL;
	int fd, rc, one = 1;

	if (listen_addr[0] == '[') {
		const char *end = strchr(listen_addr, ']');
		if (!end || end[1] != ':' || (size_t)(end - listen_addr) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(end - listen_addr - 1), listen_addr + 1);
		colon = end + 1;
	} else {
		colon = strrchr(listen_addr, ':');
		if (!colon || (size_t)(colon - listen_addr) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_addr), listen_addr);
	}
	snprintf(port, sizeof(port), "%s", colon + 1);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0)
		return -EADDRNOTAVAIL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		rc = -errno;
		close(fd);
		goto out;
	}
	rc = fd;
out:
	freeaddrinfo(ai);
	return rc;
}

int api_server_start(agent *a, const struct api_conf *conf, struct api_server **out)
{
	struct api_server *s = xcalloc(1, sizeof(*s));
	int64_t now = util_mono_ms();

	char lerr[300];
	if (!mhd && !(mhd = api_mhd_load(lerr, sizeof(lerr)))) {
		log_error("cannot start the API server", "listen=%s error=\"%s\"", conf->listen, lerr);
		free(s);
		return -ENOENT;
	}
	s->a = a;
	s->listen = xstrdup(conf->listen);
	s->token = conf->token ? xstrdup(conf->token) : NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->capture_rl = (struct api_bucket){API_CAPTURE_BURST, API_CAPTURE_BURST,
					    API_CAPTURE_PER_MIN / 60000.0, now};
	s->alert_rl =
	    (struct api_bucket){API_ALERT_BURST, API_ALERT_BURST, API_ALERT_PER_MIN / 60000.0, now};
	s->listen_fd = open_listener(conf->listen);
	if (s->listen_fd < 0) {
		int rc = s->listen_fd;
		log_error("cannot listen for the API", "listen=%s call=bind error=%s", conf->listen,
			  strerror(-rc));
		s->listen_fd = -1;
		api_server_stop(s);
		return rc;
	}
	s->daemon = mhd->start_daemon(
	    MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET |
		MHD_USE_ITC,
	    0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_CLIENT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, s, MHD_OPTION_END);
	if (!s->daemon) {
		log_error("cannot start the API server", "listen=%s call=MHD_start_daemon",
			  conf->listen);
		api_server_stop(s);
		return -EIO;
	}
	struct api_gate_ops ops = {gate_handoff, gate_healthz, s};
	int grc = api_gate_start(s->listen_fd, &ops, &s->gate);
	if (grc < 0) {
		log_error("cannot start the API server", "listen=%s call=api_gate_start error=%s",
			  conf->listen, strerror(-grc));
		api_server_stop(s);
		return grc;
	}
	s->listen_fd = -1; /* the gate's now */
	log_info("API listening", "listen=%s auth=%s", conf->listen, s->token ? "bearer" : "none");
	*out = s;
	return 0;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	api_gate_stop(s->gate); /* first: it hands connections to the daemon */
	if (s->daemon)
		mhd->stop_daemon(s->daemon);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->token) {
		explicit_bzero(s->token, strlen(s->token));
		free(s->token);
	}
	free(s->listen);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int service_start(agent *a, const struct hound_config *cfg, void **state)
{
	struct api_server *s = NULL;
	int rc = cfg->api.enabled ? api_server_start(a, &cfg->api, &s) : 0;
	*state = s;
	return rc;
}

static void service_stop(void *state)
{
	api_server_stop(state);
}

const struct agent_service *api_agent_service(void)
{
	static const struct agent_service svc = {"api", service_start, service_stop};
	return &svc;
}
