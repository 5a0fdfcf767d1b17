/* http_client: the one place hound speaks HTTP (libcurl), for Go endpoints and S3. */
#ifndef HOUND_HTTP_CLIENT_H
#define HOUND_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One reusable connection handle (keep-alive). Not thread-safe: one per thread/user. */
typedef struct http_client http_client;

struct http_request {
	const char *method;               /* "GET", "PUT", "POST", "DELETE", "HEAD" */
	const char *url;                  /* already percent-encoded */
	const char *const *headers;       /* NULL-terminated "Name: value" list, or NULL */
	/* Request body: either a file range (streamed, never loaded) or a buffer. */
	int body_fd;                      /* -1 for none */
	off_t body_off;
	uint64_t body_len;
	const void *body_buf;             /* used when body_fd < 0; may be NULL */
	size_t body_buf_len;
	/* AWS SigV4 via CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3") with "AKID:SECRET" */
	const char *aws_sigv4;
	const char *aws_userpwd;
	/* Response body goes to resp_fd when >= 0, else into a buffer. */
	int resp_fd;
	uint64_t max_body;                /* cap on the response body; over it: -EFBIG */
	int64_t connect_timeout_ms;       /* 0: 5s */
	int64_t timeout_ms;               /* 0: 30s; whole transfer; < 0: none (use low_speed_*) */
	/*
	 * A low-speed limit: -ETIMEDOUT when fewer than low_speed_bps bytes/s
	 * move over a window of low_speed_s seconds. Unlike a total timeout, a
	 * slow but moving transfer finishes however long it takes. Sent bytes
	 * count once they leave the socket's send queue (not when curl hands
	 * them to the kernel, as CURLOPT_LOW_SPEED_* counts them). 0: not used.
	 */
	long low_speed_bps, low_speed_s;
	const char *ca_file;              /* NULL: system CAs; TLS is always verified */
	/*
	 * Optional streaming sink for the response body (used when resp_fd < 0):
	 * each chunk goes to on_body(chunk, n, on_body_arg) and is not buffered,
	 * so resp->body stays NULL. A nonzero return aborts the transfer
	 * (-ECANCELED). max_body still applies to the total.
	 */
	int (*on_body)(const void *chunk, size_t n, void *arg);
	void *on_body_arg;
	const int *cancel;                /* optional: *cancel != 0 stops the transfer (-ECANCELED) */
};

struct http_response {
	long status;                      /* HTTP status, 0 when no response */
	char *body;                       /* NUL-terminated, owned; NULL when resp_fd used */
	size_t body_len;
	char *etag;                       /* ETag response header (owned) or NULL */
	int64_t content_length;           /* Content-Length of the answer (HEAD too), -1 unknown */
	char err[256];                    /* transport error text when the call fails */
};

int http_client_new(http_client **out);
void http_client_free(http_client *c);

/*
 * Performs one request. Returns 0 when an HTTP response arrived (whatever its
 * status), else a negative errno: -ECONNREFUSED, -ETIMEDOUT, -EFBIG (response
 * over max_body), -EHOSTUNREACH, -EPROTO, -EIO; resp->err says what happened
 * ("GET http://127.0.0.1:6060/debug/vars: connection refused").
 * The caller frees resp with http_response_fini.
 */
int http_request_do(http_client *c, const struct http_request *req, struct http_response *resp);
void http_response_fini(struct http_response *resp);

/* libcurl global init (idempotent; http_client_new calls it) and cleanup at exit. */
int http_global_init(void);
void http_global_cleanup(void);

#endif
