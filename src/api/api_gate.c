/* api_gate: accepts API connections and hands over only complete request heads. */
#include "api/api_gate.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct pending {
	int fd; /* -1: free slot */
	int64_t since_ms;
	bool partial; /* sent part of a request head, not all of it */
	struct sockaddr_storage sa;
	socklen_t salen;
};

struct api_gate {
	struct api_gate_ops ops;
	int listen_fd, ep, stop_fd;
	int spare_fd; /* given up to accept (and refuse) a client when out of fds */
	pthread_t thread;
	struct pending p[API_GATE_PENDING];
};

int api_gate_head_complete(const char *buf, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n'))
			return 1;
	}
	return n >= API_GATE_HEAD_MAX ? -1 : 0;
}

int api_gate_is_healthz(const char *buf, size_t n)
{
	static const struct {
		const char *m;
		int kind;
	} ms[] = {{"GET ", 1}, {"HEAD ", 2}};
	for (size_t i = 0; i < 2; i++) {
		size_t ml = strlen(ms[i].m);
		if (n < ml || memcmp(buf, ms[i].m, ml))
			continue;
		const char *u = buf + ml;
		size_t left = n - ml;
		if (left >= 9 && !memcmp(u, "/healthz", 8) && (u[8] == ' ' || u[8] == '\r' || u[8] == '\n'))
			return ms[i].kind;
	}
	return 0;
}

/* Same client address (port ignored)? */
static bool same_client(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
	return true;
}

static void drop(struct api_gate *g, struct pending *p)
{
	epoll_ctl(g->ep, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	p->fd = -1;
}

static void release(struct api_gate *g, struct pending *p)
{
	epoll_ctl(g->ep, EPOLL_CTL_DEL, p->fd, NULL);
	p->fd = -1;
}

/* Is a a better eviction victim than b? Partial heads first, then the oldest. */
static bool worse(const struct pending *a, const struct pending *b)
{
	if (!b)
		return true;
	if (a->partial != b->partial)
		return a->partial;
	return a->since_ms < b->since_ms;
}

/*
 * A free slot for a connection from sa. When that client already has
 * API_GATE_PER_CLIENT waiting, or the table is full, one is evicted: first
 * one that sent part of a request head and stalled (what a slowloris client
 * does), the oldest of those; only then the oldest silent one, if it has
 * been silent for API_GATE_GRACE_MS. NULL when no connection may be evicted:
 * the new one is refused. A probe sends its whole head at once, so a flood
 * of new connections evicts the stalled ones, not the probe.
 */
static struct pending *slot_for(struct api_gate *g, const struct sockaddr_storage *sa,
				int64_t now)
{
	struct pending *free_slot = NULL, *victim_all = NULL, *victim_mine = NULL;
	int mine = 0;
	for (size_t i = 0; i < API_GATE_PENDING; i++) {
		struct pending *p = &g->p[i];
		if (p->fd < 0) {
			if (!free_slot)
				free_slot = p;
			continue;
		}
		if (worse(p, victim_all))
			victim_all = p;
		if (same_client(&p->sa, sa)) {
			mine++;
			if (worse(p, victim_mine))
				victim_mine = p;
		}
	}
	struct pending *victim = mine >= API_GATE_PER_CLIENT ? victim_mine
				 : free_slot			 ? NULL
								 : victim_all;
	if (!victim)
		return free_slot;
	if (!victim->partial && now - victim->since_ms < API_GATE_GRACE_MS)
		return NULL;
	drop(g, victim);
	return victim;
}

static void answer_and_close(struct api_gate *g, struct pending *p, const char *resp, size_t n)
{
	/* Small answers fit the socket buffer; a client that does not read loses it. */
	(void)!write(p->fd, resp, n);
	shutdown(p->fd, SHUT_WR);
	drop(g, p);
}

/* Looks at what p has sent so far; hands it over, answers it, or lets it wait. */
static void examine(struct api_gate *g, struct pending *p)
{
	char head[API_GATE_HEAD_MAX];
	ssize_t n = recv(p->fd, head, sizeof(head), MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		drop(g, p);
		return;
	}
	if (n < 0)
		return;
	int st = api_gate_head_complete(head, (size_t)n);
	if (st < 0) {
		static const char too_long[] =
		    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
		    "Connection: close\r\n\r\n";
		answer_and_close(g, p, too_long, sizeof(too_long) - 1);
		return;
	}
	if (st == 0) {
		p->partial = n > 0;
		return;
	}
	int hz = api_gate_is_healthz(head, (size_t)n);
	if (hz) {
		char resp[1024];
		/* consume the request so the close is a clean FIN, not a reset */
		(void)!recv(p->fd, head, (size_t)n, MSG_DONTWAIT);
		size_t rn = g->ops.healthz(g->ops.ctx, hz == 2, resp, sizeof(resp));
		answer_and_close(g, p, resp, rn);
		return;
	}
	int fd = p->fd;
	struct sockaddr_storage sa = p->sa;
	socklen_t salen = p->salen;
	release(g, p);
	g->ops.handoff(g->ops.ctx, fd, (const struct sockaddr *)&sa, salen);
}

/*
 * Accepts a batch of connections; waiting ones that became readable are
 * examined between batches, so a flood of new connections cannot starve
 * them.
 */
static void accept_all(struct api_gate *g, int64_t now)
{
	for (int batch = 0; batch < API_GATE_PER_CLIENT; batch++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);
		int fd = accept4(g->listen_fd, (struct sockaddr *)&sa, &salen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && g->spare_fd >= 0) {
			/*
			 * Out of fds: a connection left in the backlog would wake
			 * us for ever and its client would wait for ever. Use the
			 * spare fd to take it and answer 503, then keep a spare again.
			 */
			static const char busy[] =
			    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
			    "Content-Length: 43\r\nConnection: close\r\n\r\n"
			    "{\"error\":\"out of file descriptors; retry\"}\n";
			log_warn("API out of file descriptors: answering 503", "call=accept4 error=%s",
				 strerror(errno));
			close(g->spare_fd);
			fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				(void)!write(fd, busy, sizeof(busy) - 1);
				close(fd);
			}
			g->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			continue;
		}
		if (fd < 0)
			return;
		struct pending *p = slot_for(g, &sa, now);
		if (!p) {
			close(fd);
			continue;
		}
		p->fd = fd;
		p->partial = false;
		p->since_ms = now;
		p->sa = sa;
		p->salen = salen;
		/* Edge-triggered: a peek leaves the bytes queued; only new bytes wake us. */
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
					 .data.ptr = p};
		if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			p->fd = -1;
			continue;
		}
		examine(g, p); /* the head may be there already */
	}
}

static void *gate_main(void *arg)
{
	struct api_gate *g = arg;
	struct epoll_event evs[64];
	for (;;) {
		int n = epoll_wait(g->ep, evs, ARRAY_LEN(evs), 250);
		int64_t now = util_mono_ms();
		bool listen_ready = false;
		/* requests that arrived first, new connections after */
		for (int i = 0; i < n; i++) {
			void *ptr = evs[i].data.ptr;
			if (ptr == &g->stop_fd)
				return NULL;
			if (ptr == &g->listen_fd) {
				listen_ready = true;
				continue;
			}
			struct pending *p = ptr;
			if (p->fd >= 0)
				examine(g, p);
		}
		if (listen_ready)
			accept_all(g, now);
		for (size_t i = 0; i < API_GATE_PENDING; i++)
			if (g->p[i].fd >= 0 && now - g->p[i].since_ms > API_GATE_HEADER_MS)
				drop(g, &g->p[i]);
	}
}

int api_gate_start(int listen_fd, const struct api_gate_ops *ops, struct api_gate **out)
{
	struct api_gate *g = xcalloc(1, sizeof(*g));
	int rc;
	g->ops = *ops;
	g->listen_fd = listen_fd;
	for (size_t i = 0; i < API_GATE_PENDING; i++)
		g->p[i].fd = -1;
	g->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	g->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->ep < 0 || g->stop_fd < 0) {
		rc = -errno;
		goto fail;
	}
	struct epoll_event le = {.events = EPOLLIN, .data.ptr = &g->listen_fd};
	struct epoll_event se = {.events = EPOLLIN, .data.ptr = &g->stop_fd};
	if (epoll_ctl(g->ep, EPOLL_CTL_ADD, listen_fd, &le) < 0 ||
	    epoll_ctl(g->ep, EPOLL_CTL_ADD, g->stop_fd, &se) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&g->thread, NULL, gate_main, g);
	if (rc)
		goto fail;
	*out = g;
	return 0;
fail:
	if (g->ep >= 0)
		close(g->ep);
	if (g->stop_fd >= 0)
		close(g->stop_fd);
	if (g->spare_fd >= 0)
		close(g->spare_fd);
	free(g);
	return rc;
}

void api_gate_stop(struct api_gate *g)
{
	if (!g)
		return;
	uint64_t one = 1;
	(void)!write(g->stop_fd, &one, sizeof(one));
	pthread_join(g->thread, NULL);
	for (size_t i = 0; i < API_GATE_PENDING; i++)
		if (g->p[i].fd >= 0)
			close(g->p[i].fd);
	close(g->listen_fd);
	close(g->ep);
	close(g->stop_fd);
	if (g->spare_fd >= 0)
		close(g->spare_fd);
	free(g);
}
