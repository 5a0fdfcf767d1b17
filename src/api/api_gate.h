/*
 * api_gate: the API's front door. It accepts connections itself and hands a
 * connection to the HTTP server only once its request headers are complete,
 * so clients that open connections and send nothing, or a byte at a time
 * (slowloris), never occupy the server's connection slots. Each client
 * address may hold a bounded number of waiting connections (past it, its
 * stalled ones are dropped first, oldest first), and every connection must
 * complete its headers within a deadline. GET/HEAD /healthz is answered by the gate itself, so liveness
 * probes are answered whatever the state of the server's connection table.
 */
#ifndef HOUND_API_GATE_H
#define HOUND_API_GATE_H

#include <stddef.h>
#include <sys/socket.h>

/* Waiting connections: per client address, in all, and the header deadline. */
#define API_GATE_PER_CLIENT 16
#define API_GATE_PENDING    256
#define API_GATE_HEADER_MS  5000
/* A silent waiting connection younger than this is not evicted for a new one. */
#define API_GATE_GRACE_MS   1000
/* Longest request head looked at; a longer one is refused (431). */
#define API_GATE_HEAD_MAX   8192

struct api_gate_ops {
	/* Takes ownership of fd, whose request head is complete. */
	void (*handoff)(void *ctx, int fd, const struct sockaddr *sa, socklen_t salen);
	/*
	 * Writes the full HTTP answer to GET (head_only 0) or HEAD /healthz into
	 * buf; returns its length (truncated to len).
	 */
	size_t (*healthz)(void *ctx, int head_only, char *buf, size_t len);
	void *ctx;
};

struct api_gate;

/*
 * Starts the gate's thread on listen_fd (non-blocking, listening; the gate
 * owns it from now on and closes it). 0 or -errno.
 */
int api_gate_start(int listen_fd, const struct api_gate_ops *ops, struct api_gate **out);
/* Stops the thread, closes the listener and every waiting connection. NULL ok. */
void api_gate_stop(struct api_gate *g);

/*
 * Pure: does buf (n bytes) hold a complete request head? Returns 1 if
 * complete, 0 if more is needed, -1 if it cannot be a request head (too long).
 */
int api_gate_head_complete(const char *buf, size_t n);
/* Pure: is the complete head in buf a GET (1) or HEAD (2) of /healthz? else 0. */
int api_gate_is_healthz(const char *buf, size_t n);

#endif
