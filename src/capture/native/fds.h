/* fds: the `fds` capture kind, a process's fd table grouped by what each fd points to. */
#ifndef HOUND_FDS_H
#define HOUND_FDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "capture/kind.h"

/* One socket of a /proc/PID/net table. */
struct fds_socket {
	uint64_t inode;
	char desc[160]; /* "tcp ESTABLISHED peer 127.0.0.1:5432", "unix STREAM /run/x.sock" */
};

/*
 * Parses one data line of /proc/net/{tcp,tcp6,udp,udp6} (proto names the
 * table) or /proc/net/unix (proto "unix") into out. Sockets that listen or
 * are unconnected are described by their local address, connected ones by
 * their peer, so the many connections of one leak land in one group. Pure.
 * Returns 0, or -EINVAL for a header or a line it cannot read.
 */
int fds_parse_net_line(const char *proto, const char *line, struct fds_socket *out);

/*
 * The group an fd's link text falls in ("/dev/null", "pipe", "anon_inode:[eventfd]",
 * a socket's description from socks, sorted by inode). Pure.
 */
void fds_group_key(const char *link, const struct fds_socket *socks, size_t nsocks, char *buf,
		   size_t len);

/* "Max open files  1024  4096  files" of /proc/PID/limits: soft and hard (-1: unlimited). Pure. */
int fds_parse_limits(const char *buf, long long *soft, long long *hard);

/*
 * Writes the fd table of pid grouped by target, largest group first, with
 * the fd limit, to out. Returns 0 or -errno with a sentence in err.
 */
int fds_dump(pid_t pid, FILE *out, char *err, size_t errlen);

/* Capture kind `fds`: writes fds.txt into the bundle. */
int fds_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		size_t errlen);

#endif
