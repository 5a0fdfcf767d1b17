/* test_http_client: http_client against a real HTTP server on 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/http_client.h"
#include "lib/sha256.h"
#include "lib/util.h"
#include "tap.h"

static pid_t server_pid;

/* Starts tests/unit/http_test_server.py and returns the port it printed. */
static int start_server(void)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	server_pid = fork();
	if (server_pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execlp("python3", "python3", TOP_SRCDIR "/tests/unit/http_test_server.py",
		       (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[32] = { 0 };
	size_t n = 0;
	while (n < sizeof(buf) - 1 && !strchr(buf, '\n')) { /* one line: the port */
		ssize_t r = read(p[0], buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(p[0]);
	return strchr(buf, '\n') ? atoi(buf) : -1;
}

/* A port nobody listens on: bind, learn the port, close. */
static int dead_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	bind(s, (struct sockaddr *)&a, sizeof(a));
	getsockname(s, (struct sockaddr *)&a, &l);
	close(s);
	return ntohs(a.sin_port);
}

static int get(http_client *c, const char *url, uint64_t cap, int fd, int64_t timeout_ms,
	       struct http_response *r)
{
	struct http_request q = { .method = "GET", .url = url, .body_fd = -1, .resp_fd = fd,
				  .max_body = cap, .timeout_ms = timeout_ms };
	return http_request_do(c, &q, r);
}

static int count_body(const void *chunk, size_t n, void *arg)
{
	size_t *total = arg;
	*total += n;
	return *total > 100000; /* stop after ~100 kB */
}

static int cancel_flag;

static void *set_cancel_later(void *arg)
{
	usleep(200 * 1000);
	__atomic_store_n(&cancel_flag, 1, __ATOMIC_RELAXED);
	return NULL;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	ok(http_global_init() == 0, "global init");
	int port = start_server();
	ok(port > 0, "test server started on port %d", port);
	if (port <= 0)
		return done_testing();
	http_client *c;
	is_int(http_client_new(&c), 0, "client created");
	char url[256];
	struct http_response r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bytes/1000", port);
	is_int(get(c, url, 0, -1, 0, &r), 0, "GET returns 0");
	is_int(r.status, 200, "status 200");
	is_int(r.body_len, 1000, "1000 bytes in the buffer");
	ok(r.body && r.body[999] == 'x' && r.body[1000] == '\0', "body NUL-terminated");
	http_response_fini(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", port);
	is_int(get(c, url, 0, -1, 0, &r), 0, "a 404 is a response, not a transport error");
	is_int(r.status, 404, "status 404");
	is_str(r.body, "no such path", "404 body kept");
	http_response_fini(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bytes/5000", port);
	is_int(get(c, url, 4096, -1, 0, &r), -EFBIG, "Content-Length over the cap: -EFBIG");
	ok(r.body == NULL, "no body on -EFBIG");
	ok(strstr(r.err, "4096") != NULL, "error names the cap: %s", r.err);
	http_response_fini(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/chunked/300000", port);
	is_int(get(c, url, 100000, -1, 0, &r), -EFBIG, "chunked body over the cap: -EFBIG");
	http_response_fini(&r);
	is_int(get(c, url, 300000, -1, 0, &r), 0, "chunked body exactly at the cap is fine");
	is_int(r.body_len, 300000, "all chunked bytes");
	http_response_fini(&r);

	char path[] = "/tmp/hound-http-XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bytes/200000", port);
	is_int(get(c, url, 0, fd, 0, &r), 0, "GET into an fd");
	ok(r.body == NULL, "no buffer when streaming to an fd");
	struct stat st;
	fstat(fd, &st);
	is_int(st.st_size, 200000, "fd holds the whole body");
	http_response_fini(&r);
	ftruncate(fd, 0);
	lseek(fd, 0, SEEK_SET);
	is_int(get(c, url, 1000, fd, 0, &r), -EFBIG, "fd response over the cap: -EFBIG");
	http_response_fini(&r);

	/* PUT a range of a file: streamed, the server sees exactly that range. */
	ftruncate(fd, 0);
	char blk[4096];
	for (int i = 0; i < 256; i++) {
		memset(blk, 'a' + i % 26, sizeof(blk));
		util_write_full(fd, blk, sizeof(blk));
	}
	char want[65], line[160];
	uint64_t hashed;
	sha256_file(fd, 12345, 500000, want, &hashed);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port);
	const char *hdrs[] = { "Content-Type: application/octet-stream", NULL };
	struct http_request put = { .method = "PUT", .url = url, .headers = hdrs, .body_fd = fd,
				    .body_off = 12345, .body_len = 500000, .resp_fd = -1 };
	is_int(http_request_do(c, &put, &r), 0, "PUT from a file range");
	snprintf(line, sizeof(line), "500000 %s PUT", want);
	is_str(r.body, line, "server got the exact range");
	is_str(r.etag, "\"e-500000\"", "ETag captured");
	http_response_fini(&r);

	struct http_request post = { .method = "POST", .url = url, .body_fd = -1,
				     .body_buf = "hello", .body_buf_len = 5, .resp_fd = -1 };
	is_int(http_request_do(c, &post, &r), 0, "POST from a buffer");
	ok(r.body && strncmp(r.body, "5 2cf24dba", 10) == 0 && strstr(r.body, "POST"),
	   "POST body and method arrived: %s", r.body ? r.body : "");
	http_response_fini(&r);

	/* A file that is shorter than the announced range must fail, not send short. */
	struct http_request shortput = put;
	shortput.body_off = 1000000;
	shortput.body_len = 100000;
	int rc = http_request_do(c, &shortput, &r);
	ok(rc < 0, "a body range past EOF fails (%d: %s)", rc, r.err);
	http_response_fini(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", port);
	is_int(get(c, url, 0, -1, 300, &r), -ETIMEDOUT, "slow server: -ETIMEDOUT");
	ok(strstr(r.err, "/slow") != NULL, "timeout error names the URL: %s", r.err);
	http_response_fini(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/bytes/3", port);
	is_int(get(c, url, 0, -1, 0, &r), 0, "the handle works again after a timeout");
	is_str(r.body, "xxx", "body after timeout");
	http_response_fini(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", dead_port());
	is_int(get(c, url, 0, -1, 0, &r), -ECONNREFUSED, "nobody listening: -ECONNREFUSED");
	ok(strstr(r.err, "GET http://127.0.0.1:") == r.err, "refused error names method and URL: %s",
	   r.err);
	is_int(r.status, 0, "no status without a response");
	http_response_fini(&r);

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/bytes/3", port);
	rc = get(c, url, 0, -1, 2000, &r);
	ok(rc == -EPROTO || rc == -EIO, "TLS to a plain-HTTP server fails (%d: %s)", rc, r.err);
	http_response_fini(&r);

	is_int(get(c, "ftp://127.0.0.1/x", 0, -1, 0, &r), -EPROTO, "non-HTTP scheme refused");
	http_response_fini(&r);

	/* Streaming sink: chunks arrive without buffering; a nonzero return stops. */
	size_t total = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/chunked/50000", port);
	struct http_request sq = { .method = "GET", .url = url, .body_fd = -1, .resp_fd = -1,
				   .on_body = count_body, .on_body_arg = &total };
	is_int(http_request_do(c, &sq, &r), 0, "GET into on_body");
	is_int(total, 50000, "on_body saw every byte");
	ok(r.body == NULL, "nothing buffered with on_body");
	http_response_fini(&r);
	total = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/chunked/1000000", port);
	is_int(http_request_do(c, &sq, &r), -ECANCELED, "on_body returning nonzero: -ECANCELED");
	http_response_fini(&r);

	/* *cancel stops a transfer in flight (here: one waiting on a slow server). */
	pthread_t th;
	pthread_create(&th, NULL, set_cancel_later, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", port);
	struct http_request cq = { .method = "GET", .url = url, .body_fd = -1, .resp_fd = -1,
				   .timeout_ms = 20000, .cancel = &cancel_flag };
	is_int(http_request_do(c, &cq, &r), -ECANCELED, "*cancel set: -ECANCELED");
	ok(strstr(r.err, "cancelled") != NULL, "cancel error: %s", r.err);
	http_response_fini(&r);
	pthread_join(th, NULL);

	close(fd);
	http_client_free(c);
	http_client_free(NULL);
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	http_global_cleanup();
	return done_testing();
}
