/* http_client: the one place hound speaks HTTP (libcurl), for Go endpoints and S3. */
#include "lib/http_client.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "lib/log.h"
#include "lib/util.h"

/* A buffered response (resp_fd < 0) is capped here when the caller gives no max_body. */
#define HTTP_DEFAULT_BUF_CAP (64u << 20)
#define HTTP_DEFAULT_CONNECT_MS 5000
#define HTTP_DEFAULT_TIMEOUT_MS 30000

/*
 * libcurl is loaded with dlopen on first use rather than linked: its TLS,
 * LDAP and SSH dependencies make up most of the agent's start-up time and
 * several MiB of its RSS, which `hound stacks`, `hound capture` of a native
 * process and an agent without Go targets or uploads never need.
 */
#define LIBCURL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *h);
	void (*easy_reset)(CURL *h);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} cu;

static void *lib;
static char load_error[256];

/* Resolves every entry of cu; 0 or -ENOENT with load_error set. */
static int load_libcurl(void)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
		{"curl_global_init", offsetof(__typeof__(cu), global_init)},
		{"curl_global_cleanup", offsetof(__typeof__(cu), global_cleanup)},
		{"curl_easy_init", offsetof(__typeof__(cu), easy_init)},
		{"curl_easy_cleanup", offsetof(__typeof__(cu), easy_cleanup)},
		{"curl_easy_reset", offsetof(__typeof__(cu), easy_reset)},
		{"curl_easy_setopt", offsetof(__typeof__(cu), easy_setopt)},
		{"curl_easy_perform", offsetof(__typeof__(cu), easy_perform)},
		{"curl_easy_getinfo", offsetof(__typeof__(cu), easy_getinfo)},
		{"curl_easy_strerror", offsetof(__typeof__(cu), easy_strerror)},
		{"curl_slist_append", offsetof(__typeof__(cu), slist_append)},
		{"curl_slist_free_all", offsetof(__typeof__(cu), slist_free_all)},
	};

	lib = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(load_error, sizeof(load_error), "dlopen(%s): %s", LIBCURL_SONAME, dlerror());
		return -ENOENT;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *fn = dlsym(lib, syms[i].name);
		if (!fn) {
			snprintf(load_error, sizeof(load_error), "dlsym(%s, %s): %s", LIBCURL_SONAME,
				 syms[i].name, dlerror());
			return -ENOENT;
		}
		memcpy((char *)&cu + syms[i].off, &fn, sizeof(fn));
	}
	return 0;
}

struct http_client {
	CURL *h;
	char errbuf[CURL_ERROR_SIZE];
	/* the socket of the current (kept-alive) connection, for its send queue; -1 unknown */
	int sock;
};

/* Per-request state shared with the libcurl callbacks. */
struct xfer {
	const struct http_request *req;
	uint64_t sent;          /* request body bytes handed to curl */
	int read_errno;         /* pread failure or short file */
	char *buf;              /* buffered response */
	size_t len, cap;
	uint64_t received;      /* response body bytes */
	uint64_t limit;         /* 0: unlimited */
	bool over_limit;
	int write_errno;        /* write to resp_fd failed */
	bool cancelled;         /* on_body or *cancel asked to stop */
	char *etag;
	/* low-speed check (see progress_cb) */
	http_client *c;
	int64_t ls_mark_ms;     /* start of the current window */
	uint64_t ls_mark_bytes; /* bytes moved at its start */
	bool stalled;           /* aborted: too slow */
};

/*
 * libcurl's global init loads the TLS libraries (megabytes of pages): do it
 * on first use, once, so an agent that never speaks HTTP never pays for it.
 */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;
static bool global_done;

static void global_init_once(void)
{
	if (load_libcurl() < 0) {
		log_error("cannot load libcurl: HTTP (Go endpoints, uploads, status) is unavailable",
			  "error=%s", load_error);
		return; /* global_rc stays CURLE_FAILED_INIT */
	}
	global_rc = cu.global_init(CURL_GLOBAL_ALL);
	global_done = global_rc == CURLE_OK;
}

int http_global_init(void)
{
	pthread_once(&global_once, global_init_once);
	return global_rc == CURLE_OK ? 0 : -EIO;
}

void http_global_cleanup(void)
{
	if (global_done)
		cu.global_cleanup();
}

int http_client_new(http_client **out)
{
	if (http_global_init() < 0) {
		*out = NULL;
		return -EIO;
	}
	http_client *c = xcalloc(1, sizeof(*c));
	c->h = cu.easy_init();
	c->sock = -1;
	if (!c->h) {
		free(c);
		*out = NULL;
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void http_client_free(http_client *c)
{
	if (!c)
		return;
	cu.easy_cleanup(c->h);
	free(c);
}

void http_response_fini(struct http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	free(resp->etag);
	resp->body = NULL;
	resp->etag = NULL;
	resp->body_len = 0;
}

static uint64_t body_len(const struct http_request *r)
{
	return r->body_fd >= 0 ? r->body_len : (uint64_t)r->body_buf_len;
}

/* Streams the request body from the file range (pread, never loaded) or the buffer. */
static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	const struct http_request *r = x->req;
	uint64_t left = body_len(r) - x->sent;
	size_t n = size * nmemb;
	if (n > left)
		n = (size_t)left;
	if (n == 0)
		return 0;
	if (r->body_fd < 0) {
		memcpy(dst, (const char *)r->body_buf + x->sent, n);
		x->sent += n;
		return n;
	}
	ssize_t got;
	do
		got = pread(r->body_fd, dst, n, r->body_off + (off_t)x->sent);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		/* A file that shrank under us must not be sent short: abort the request. */
		x->read_errno = got < 0 ? errno : EIO;
		return CURL_READFUNC_ABORT;
	}
	x->sent += (uint64_t)got;
	return (size_t)got;
}

/* curl rewinds the body when it must resend it (e.g. a reused connection that died). */
static int seek_cb(void *arg, curl_off_t off, int origin)
{
	struct xfer *x = arg;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > body_len(x->req))
		return CURL_SEEKFUNC_CANTSEEK;
	x->sent = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t write_cb(char *src, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	if (x->limit && x->received + n > x->limit) {
		x->over_limit = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	x->received += n;
	if (x->req->resp_fd < 0 && x->req->on_body) {
		if (x->req->on_body(src, n, x->req->on_body_arg) != 0) {
			x->cancelled = true;
			return 0;
		}
		return n;
	}
	if (x->req->resp_fd >= 0) {
		int rc = util_write_full(x->req->resp_fd, src, n);
		if (rc < 0) {
			x->write_errno = -rc;
			return 0;
		}
		return n;
	}
	if (x->len + n + 1 > x->cap) {
		size_t ncap = x->cap ? x->cap : 4096;
		while (ncap < x->len + n + 1)
			ncap *= 2;
		x->buf = xrealloc(x->buf, ncap);
		x->cap = ncap;
	}
	memcpy(x->buf + x->len, src, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

/*
 * Bytes that really moved: received, plus sent minus what still waits in
 * the socket's send queue. curl counts a body as sent once the kernel has
 * it; on a slow link megabytes can sit in the send buffer, and curl's own
 * CURLOPT_LOW_SPEED_* would then see no progress while they drain.
 */
static uint64_t moved_bytes(const struct xfer *x, curl_off_t dn, curl_off_t un)
{
	int outq = 0;
	if (un > 0 && x->c->sock >= 0 && ioctl(x->c->sock, SIOCOUTQ, &outq) < 0)
		outq = 0;
	uint64_t up = (uint64_t)un > (uint64_t)outq ? (uint64_t)un - (uint64_t)outq : 0;
	return (uint64_t)dn + up;
}

/* Remembers each new connection's socket (a reused connection keeps its own). */
static int sockopt_cb(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	http_client *c = arg;
	if (purpose == CURLSOCKTYPE_IPCXN)
		c->sock = (int)fd;
	return CURL_SOCKOPT_OK;
}

static int progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = arg;
	(void)dt;
	(void)ut;
	if (x->req->cancel && __atomic_load_n(x->req->cancel, __ATOMIC_RELAXED)) {
		x->cancelled = true;
		return 1;
	}
	if (x->req->low_speed_bps > 0 && x->req->low_speed_s > 0) {
		/*
		 * Stalled when less than low_speed_bps * low_speed_s bytes moved in
		 * the low_speed_s seconds since the mark; the mark moves up every
		 * time that much has moved.
		 */
		int64_t now = util_mono_ms();
		uint64_t moved = moved_bytes(x, dn, un);
		uint64_t want = (uint64_t)x->req->low_speed_bps * (uint64_t)x->req->low_speed_s;
		if (x->ls_mark_ms == 0 || moved < x->ls_mark_bytes || moved - x->ls_mark_bytes >= want) {
			x->ls_mark_ms = now;
			x->ls_mark_bytes = moved;
		} else if (now - x->ls_mark_ms >= x->req->low_speed_s * 1000) {
			x->stalled = true;
			return 1;
		}
	}
	return 0;
}

/* Keeps the ETag of the final response (a 100 Continue status line resets it). */
static size_t header_cb(char *line, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		free(x->etag);
		x->etag = NULL;
	} else if (n > 5 && strncasecmp(line, "etag:", 5) == 0) {
		const char *v = line + 5, *end = line + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(x->etag);
		x->etag = xstrndup(v, (size_t)(end - v));
	}
	return n;
}

static int map_error(CURL *h, CURLcode rc, const struct xfer *x)
{
	long oserr = 0;
	if (x->cancelled)
		return -ECANCELED;
	if (x->stalled)
		return -ETIMEDOUT;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		cu.easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == EHOSTUNREACH || oserr == ENETUNREACH)
			return -EHOSTUNREACH;
		if (oserr == ETIMEDOUT)
			return -ETIMEDOUT;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_WRITE_ERROR:
		if (x->over_limit)
			return -EFBIG;
		return x->write_errno ? -x->write_errno : -EIO;
	case CURLE_READ_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		return x->read_errno ? -x->read_errno : -EIO;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* Sets the method and body options; everything with a body streams through read_cb. */
static void set_method(CURL *h, const struct http_request *r, struct xfer *x)
{
	const char *m = r->method ? r->method : "GET";
	bool has_body = r->body_fd >= 0 || r->body_buf;
	if (strcmp(m, "HEAD") == 0) {
		cu.easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	if (!has_body) {
		if (strcmp(m, "GET") == 0) {
			cu.easy_setopt(h, CURLOPT_HTTPGET, 1L);
		} else if (strcmp(m, "POST") == 0) {
			cu.easy_setopt(h, CURLOPT_POST, 1L);
			cu.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
			cu.easy_setopt(h, CURLOPT_POSTFIELDS, "");
		} else if (strcmp(m, "PUT") == 0) {
			cu.easy_setopt(h, CURLOPT_UPLOAD, 1L);
			cu.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
			cu.easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
			cu.easy_setopt(h, CURLOPT_READDATA, x);
		} else {
			cu.easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
		}
		return;
	}
	/* UPLOAD gives a PUT with a known Content-Length and a streamed body;
	 * CUSTOMREQUEST renames it for POST and friends. */
	cu.easy_setopt(h, CURLOPT_UPLOAD, 1L);
	cu.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len(r));
	cu.easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	cu.easy_setopt(h, CURLOPT_READDATA, x);
	cu.easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
	cu.easy_setopt(h, CURLOPT_SEEKDATA, x);
	if (strcmp(m, "PUT") != 0)
		cu.easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
}

int http_request_do(http_client *c, const struct http_request *req, struct http_response *resp)
{
	CURL *h = c->h;
	struct xfer x = { .req = req };
	struct curl_slist *hdrs = NULL;
	const char *m = req->method ? req->method : "GET";
	int ret = 0;

	memset(resp, 0, sizeof(*resp));
	x.limit = req->max_body;
	if (!x.limit && req->resp_fd < 0 && !req->on_body)
		x.limit = HTTP_DEFAULT_BUF_CAP;

	/* reset keeps the connection cache, so keep-alive survives across requests */
	cu.easy_reset(h);
	c->errbuf[0] = '\0';
	cu.easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	cu.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(h, CURLOPT_URL, req->url);
	cu.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cu.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(req->connect_timeout_ms > 0 ? req->connect_timeout_ms
							    : HTTP_DEFAULT_CONNECT_MS));
	cu.easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 req->timeout_ms < 0 ? 0L
					     : (long)(req->timeout_ms > 0 ? req->timeout_ms
									 : HTTP_DEFAULT_TIMEOUT_MS));
	cu.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	cu.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file)
		cu.easy_setopt(h, CURLOPT_CAINFO, req->ca_file);
	cu.easy_setopt(h, CURLOPT_USERAGENT, "hound");
	cu.easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	cu.easy_setopt(h, CURLOPT_WRITEDATA, &x);
	cu.easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	cu.easy_setopt(h, CURLOPT_HEADERDATA, &x);
	/* A HEAD announces the size of a body it never sends: no cap to trip on. */
	if (x.limit && strcmp(m, "HEAD") != 0)
		cu.easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x.limit);
	x.c = c;
	cu.easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
	cu.easy_setopt(h, CURLOPT_SOCKOPTDATA, c);
	if (req->cancel || (req->low_speed_bps > 0 && req->low_speed_s > 0)) {
		cu.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
		cu.easy_setopt(h, CURLOPT_XFERINFODATA, &x);
		cu.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	set_method(h, req, &x);

	for (const char *const *p = req->headers; p && *p; p++)
		hdrs = cu.slist_append(hdrs, *p);
	/*
	 * No "Expect: 100-continue" round trip for plain requests. Signed ones
	 * keep it: curl 7.88 would list the emptied header in SignedHeaders
	 * without sending it, and the store would refuse the signature.
	 */
	if ((req->body_fd >= 0 || req->body_buf) && !req->aws_sigv4)
		hdrs = cu.slist_append(hdrs, "Expect:");
	if (hdrs)
		cu.easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (req->aws_sigv4) {
		cu.easy_setopt(h, CURLOPT_AWS_SIGV4, req->aws_sigv4);
		if (req->aws_userpwd)
			cu.easy_setopt(h, CURLOPT_USERPWD, req->aws_userpwd);
	}

	CURLcode rc = cu.easy_perform(h);
	cu.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_off_t clen = -1;
	if (cu.easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen) != CURLE_OK)
		clen = -1;
	resp->content_length = (int64_t)clen;
	if (rc != CURLE_OK) {
		ret = map_error(h, rc, &x);
		const char *what = c->errbuf[0] ? c->errbuf : cu.easy_strerror(rc);
		if (ret == -EFBIG)
			util_snprintf(resp->err, sizeof(resp->err), "%s %s: response over %llu bytes",
				      m, req->url, (unsigned long long)x.limit);
		else if (ret == -ECANCELED)
			util_snprintf(resp->err, sizeof(resp->err), "%s %s: cancelled", m, req->url);
		else if (x.stalled)
			util_snprintf(resp->err, sizeof(resp->err),
				      "%s %s: stalled: less than %ld bytes/s moved for %ld s", m,
				      req->url, req->low_speed_bps, req->low_speed_s);
		else if (x.read_errno)
			util_snprintf(resp->err, sizeof(resp->err), "%s %s: reading the body: %s", m,
				      req->url, x.read_errno == EIO ? "file shorter than announced"
								    : strerror(x.read_errno));
		else
			util_snprintf(resp->err, sizeof(resp->err), "%s %s: %s", m, req->url, what);
		free(x.buf);
		free(x.etag);
	} else {
		if (req->resp_fd < 0 && req->on_body) {
			free(x.buf);
		} else if (req->resp_fd < 0) {
			resp->body = x.buf ? x.buf : xstrdup("");
			resp->body_len = x.len;
		} else {
			free(x.buf);
		}
		resp->etag = x.etag;
	}
	/* The handle must not keep pointers into this call's stack or headers. */
	cu.easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	cu.slist_free_all(hdrs);
	return ret;
}
