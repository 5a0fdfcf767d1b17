/* fds: the `fds` capture kind, a process's fd table grouped by what each fd points to. */
#include "capture/native/fds.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "lib/util.h"

/* fd numbers listed per group; the count says how many there are. */
#define FDS_LISTED 12

static const char *const tcp_states[] = {
    "?",	  "ESTABLISHED", "SYN_SENT", "SYN_RECV",   "FIN_WAIT1", "FIN_WAIT2",
    "TIME_WAIT", "CLOSE",	 "CLOSE_WAIT", "LAST_ACK", "LISTEN",	 "CLOSING"};

/* "0100007F:1F90" (or the 32-digit IPv6 form) to "127.0.0.1:8080" / "[::1]:8080". */
static int fmt_addr(const char *hex, char *buf, size_t len)
{
	const char *colon = strchr(hex, ':');
	unsigned char a[16];
	char ip[INET6_ADDRSTRLEN];
	size_t n = colon ? (size_t)(colon - hex) : 0;

	if (n != 8 && n != 32)
		return -EINVAL;
	/* The kernel prints each 32-bit word in host byte order. */
	for (size_t w = 0; w < n / 8; w++) {
		char word[9];
		memcpy(word, hex + w * 8, 8);
		word[8] = '\0';
		uint32_t v = (uint32_t)strtoul(word, NULL, 16);
		memcpy(a + w * 4, &v, 4);
	}
	if (!inet_ntop(n == 8 ? AF_INET : AF_INET6, a, ip, sizeof(ip)))
		return -EINVAL;
	unsigned port = (unsigned)strtoul(colon + 1, NULL, 16);
	snprintf(buf, len, n == 8 ? "%s:%u" : "[%s]:%u", ip, port);
	return 0;
}

static int parse_unix(const char *line, struct fds_socket *out)
{
	unsigned long long inode;
	unsigned flags, type, st;
	int pathpos = -1;

	if (sscanf(line, "%*[0-9a-fA-F]: %*x %*x %x %x %x %llu %n", &flags, &type, &st, &inode,
		   &pathpos) < 4)
		return -EINVAL;
	const char *path = pathpos >= 0 ? line + pathpos : "";
	size_t pl = strcspn(path, "\n");
	const char *t = type == 1 ? "STREAM" : type == 2 ? "DGRAM" : type == 5 ? "SEQPACKET" : "?";
	const char *s = (flags & 0x10000) ? "LISTEN" : st == 3 ? "CONNECTED" : "UNCONNECTED";
	out->inode = inode;
	snprintf(out->desc, sizeof(out->desc), "unix %s %s %.*s", t, s, (int)(pl ? pl : 9),
		 pl ? path : "(unnamed)");
	return 0;
}

int fds_parse_net_line(const char *proto, const char *line, struct fds_socket *out)
{
	char local[64], remote[64], l[80], r[80];
	unsigned st;
	unsigned long long inode;

	memset(out, 0, sizeof(*out));
	if (!strcmp(proto, "unix"))
		return parse_unix(line, out);
	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
	if (sscanf(line, " %*u: %63s %63s %x %*s %*s %*s %*u %*u %llu", local, remote, &st,
		   &inode) != 4)
		return -EINVAL;
	if (fmt_addr(local, l, sizeof(l)) < 0 || fmt_addr(remote, r, sizeof(r)) < 0)
		return -EINVAL;
	out->inode = inode;
	bool udp = strncmp(proto, "udp", 3) == 0;
	const char *state = st < sizeof(tcp_states) / sizeof(tcp_states[0]) ? tcp_states[st] : "?";
	if (udp && st == 7)
		state = "UNCONN";
	if (st == 10 || (udp && st == 7))
		snprintf(out->desc, sizeof(out->desc), "%s %s %s", proto, state, l);
	else
		snprintf(out->desc, sizeof(out->desc), "%s %s peer %s", proto, state, r);
	return 0;
}

static int by_inode(const void *a, const void *b)
{
	const struct fds_socket *x = a, *y = b;
	return (x->inode > y->inode) - (x->inode < y->inode);
}

void fds_group_key(const char *link, const struct fds_socket *socks, size_t nsocks, char *buf,
		   size_t len)
{
	unsigned long long ino;

	if (sscanf(link, "socket:[%llu]", &ino) == 1) {
		struct fds_socket key = {.inode = ino};
		const struct fds_socket *s = bsearch(&key, socks, nsocks, sizeof(*socks), by_inode);
		snprintf(buf, len, "%s", s ? s->desc : "socket (not tcp, udp or unix: netlink, raw...)");
	} else if (!strncmp(link, "pipe:", 5)) {
		snprintf(buf, len, "pipe");
	} else {
		snprintf(buf, len, "%s", link);
	}
}

int fds_parse_limits(const char *buf, long long *soft, long long *hard)
{
	const char *p = strstr(buf, "Max open files");
	char s[32], h[32];

	if (!p || sscanf(p + strlen("Max open files"), " %31s %31s", s, h) != 2)
		return -EINVAL;
	*soft = strcmp(s, "unlimited") ? atoll(s) : -1;
	*hard = strcmp(h, "unlimited") ? atoll(h) : -1;
	return 0;
}

/* Every socket of the process's network namespace (tcp, tcp6, udp, udp6, unix), by inode. */
static struct fds_socket *read_sockets(pid_t pid, size_t *n)
{
	static const char *const tables[] = {"tcp", "tcp6", "udp", "udp6", "unix"};
	struct fds_socket *s = NULL;
	size_t cap = 0;

	*n = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		char path[64], *buf = NULL;
		size_t len;
		snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, tables[t]);
		if (util_read_file(path, &buf, &len, 64u << 20) < 0)
			continue;
		/* One line at a time (the header fails to parse): a unix line may end without a path. */
		for (char *line = buf, *next; line && *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			if (*n == cap) {
				cap = cap ? cap * 2 : 256;
				s = xrealloc(s, cap * sizeof(*s));
			}
			if (fds_parse_net_line(tables[t], line, &s[*n]) == 0)
				(*n)++;
		}
		free(buf);
	}
	if (*n)
		qsort(s, *n, sizeof(*s), by_inode);
	return s;
}

struct fd_entry {
	char *key;
	int fd;
};

struct fd_group {
	const char *key;
	size_t first, count; /* a run in the sorted entries */
};

static int by_key_fd(const void *a, const void *b)
{
	const struct fd_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->fd > y->fd) - (x->fd < y->fd);
}

static int by_count(const void *a, const void *b)
{
	const struct fd_group *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->key, y->key);
}

static void print_group(FILE *out, const struct fd_group *g, const struct fd_entry *e)
{
	fprintf(out, "%6zu x %s  (fd", g->count, g->key);
	for (size_t i = 0; i < g->count && i < FDS_LISTED; i++)
		fprintf(out, "%s%d", i ? "," : " ", e[g->first + i].fd);
	fprintf(out, "%s)\n", g->count > FDS_LISTED ? ",..." : "");
}

int fds_dump(pid_t pid, FILE *out, char *err, size_t errlen)
{
	char path[64], *lim = NULL;
	struct fd_entry *e = NULL;
	size_t n = 0, cap = 0, nsocks, len;
	long long soft = -2, hard = -2;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d) {
		int e0 = errno;
		return util_err(err, errlen, e0 == ENOENT ? -ESRCH : -e0, "opendir %s: %s", path,
				strerror(e0));
	}
	struct fds_socket *socks = read_sockets(pid, &nsocks);
	for (struct dirent *de; (de = readdir(d));) {
		char link[PATH_MAX], lpath[384], key[PATH_MAX + 32];
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(lpath, sizeof(lpath), "%s/%s", path, de->d_name);
		ssize_t ll = readlink(lpath, link, sizeof(link) - 1);
		if (ll < 0)
			continue; /* closed meanwhile */
		link[ll] = '\0';
		fds_group_key(link, socks, nsocks, key, sizeof(key));
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			e = xrealloc(e, cap * sizeof(*e));
		}
		e[n++] = (struct fd_entry){.key = xstrdup(key), .fd = atoi(de->d_name)};
	}
	closedir(d);
	free(socks);
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if (util_read_file(path, &lim, &len, 65536) == 0)
		fds_parse_limits(lim, &soft, &hard);
	free(lim);

	qsort(e, n, sizeof(*e), by_key_fd);
	struct fd_group *g = xcalloc(n ? n : 1, sizeof(*g));
	size_t ng = 0;
	for (size_t i = 0; i < n; i++) {
		if (ng == 0 || strcmp(g[ng - 1].key, e[i].key) != 0)
			g[ng++] = (struct fd_group){.key = e[i].key, .first = i};
		g[ng - 1].count++;
	}
	qsort(g, ng, sizeof(*g), by_count);
	fprintf(out, "# hound fds: PID %d, %zu open fds in %zu groups; limit ", (int)pid, n, ng);
	if (soft == -2)
		fprintf(out, "unknown");
	else if (soft < 0)
		fprintf(out, "unlimited");
	else
		fprintf(out, "%lld (%.1f%% used)", soft, 100.0 * (double)n / (double)(soft ? soft : 1));
	if (hard >= 0)
		fprintf(out, ", hard limit %lld", hard);
	fprintf(out, "\n# COUNT x WHAT  (fd numbers)\n");
	for (size_t i = 0; i < ng; i++)
		print_group(out, &g[i], e);
	for (size_t i = 0; i < n; i++)
		free(e[i].key);
	free(e);
	free(g);
	return 0;
}

int fds_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		size_t errlen)
{
	char path[PATH_MAX];
	FILE *f;
	int rc;

	UNUSED(item);
	snprintf(path, sizeof(path), "%s/fds.txt", bundle_dir(ctx->bundle));
	f = fopen(path, "we");
	if (!f)
		return util_err(err, errlen, -errno, "open %s: %s", path, strerror(errno));
	rc = fds_dump(ctx->pid, f, err, errlen);
	if (fclose(f) != 0 && rc == 0)
		rc = util_err(err, errlen, -EIO, "write %s: %s", path, strerror(errno));
	if (rc < 0) {
		unlink(path);
		return rc;
	}
	bundle_add_file(ctx->bundle, "fds.txt", "fds", "text");
	return 0;
}
