/*
 * attach: HotSpot's attach listener on Linux is a UNIX socket the JVM opens
 * on demand: a client creates .attach_pidN, sends SIGQUIT, and the JVM's
 * signal dispatcher, seeing the file, opens /tmp/.java_pidN. A request is
 * "1\0CMD\0ARG1\0ARG2\0ARG3\0"; the reply is a decimal status line and the
 * command's output until the JVM closes the connection.
 */
#include "capture/jvm/attach.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"

#define SIGQUIT_BIT (1ULL << (SIGQUIT - 1))

static bool alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

static void nap_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* One connect attempt: fd, -ENOENT (no socket), -ECONNREFUSED (stale), -EACCES (not ours), -errno. */
static int try_connect(const struct jvm_proc *j, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode) || st.st_uid != j->uid)
		return util_err(err, errlen, -EACCES,
				"%s is not a socket owned by the JVM's uid %u: not trusted", path,
				(unsigned)j->uid);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return util_err(err, errlen, -ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return util_err(err, errlen, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		if (e == EACCES || e == EPERM)
			return util_err(err, errlen, -EACCES,
					"connect %s: %s (the JVM's socket is private to uid %u: hound "
					"needs that uid, or root with CAP_DAC_OVERRIDE: set jvm: true)",
					path, strerror(e), (unsigned)j->uid);
		return -e;
	}
	return fd;
}

/*
 * Creates the trigger file where the JVM looks: its cwd first, then its
 * /tmp. Returns a directory fd to unlink it from (-errno on failure), so the
 * file goes even when the JVM, and with it /proc/PID, is gone.
 */
static int make_trigger(const struct jvm_proc *j, char *name, size_t len)
{
	static const char *const where[] = {"cwd", "root/tmp"};
	int e = 0;
	snprintf(name, len, ".attach_pid%d", (int)j->nspid);
	for (size_t i = 0; i < ARRAY_LEN(where); i++) {
		char dir[64];
		snprintf(dir, sizeof(dir), "/proc/%d/%s", (int)j->pid, where[i]);
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			e = errno;
			continue;
		}
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			close(fd);
			return dfd;
		}
		e = errno;
		close(dfd);
	}
	return -e;
}

int jvm_attach_connect(const struct jvm_proc *j, int open_timeout_ms, char *err, size_t errlen)
{
	char sock[128], trig[64];
	uid_t me = geteuid();
	int fd;

	if (me != 0 && me != j->uid)
		return util_err(err, errlen, -EACCES,
				"attach to JVM pid %d needs its uid %u or root (hound runs as uid %u)",
				(int)j->pid, (unsigned)j->uid, (unsigned)me);
	if (j->flags & JVM_FLAG_NO_ATTACH)
		return util_err(err, errlen, -EPERM,
				"JVM pid %d runs with -XX:+DisableAttachMechanism: attach refused",
				(int)j->pid);
	snprintf(sock, sizeof(sock), "/proc/%d/root/tmp/.java_pid%d", (int)j->pid, (int)j->nspid);
	fd = try_connect(j, sock, err, errlen);
	if (fd >= 0 || fd == -EACCES)
		return fd;
	/* No listener yet (or a stale socket a dead JVM left): wake it up. */
	if (!(j->sigcgt & SIGQUIT_BIT))
		return util_err(err, errlen, -EPERM,
				"JVM pid %d does not handle SIGQUIT (-Xrs, -XX:+ReduceSignalUsage, or "
				"still starting): attaching would kill it, refused",
				(int)j->pid);
	int dfd = make_trigger(j, trig, sizeof(trig));
	if (dfd < 0)
		return util_err(err, errlen, dfd, "create %s in the cwd or /tmp of pid %d: %s", trig,
				(int)j->pid, strerror(-dfd));
	if (kill(j->pid, SIGQUIT) < 0) {
		int e = errno;
		int rc = util_err(err, errlen, -e, "kill(%d, SIGQUIT): %s%s", (int)j->pid, strerror(e),
				  e == EPERM ? " (a JVM of another uid needs CAP_KILL: set jvm: true)" : "");
		unlinkat(dfd, trig, 0);
		close(dfd);
		return rc;
	}
	int64_t deadline = util_mono_ms() + open_timeout_ms;
	int wait = 10;
	for (;;) {
		fd = try_connect(j, sock, err, errlen);
		if (fd >= 0 || fd == -EACCES)
			break;
		if (!alive(j->pid)) {
			fd = util_err(err, errlen, -ESRCH, "JVM pid %d exited during attach", (int)j->pid);
			break;
		}
		if (util_mono_ms() >= deadline) {
			fd = util_err(err, errlen, -ETIMEDOUT,
				      "JVM pid %d did not open %s within %d ms after SIGQUIT "
				      "(-XX:+DisableAttachMechanism, or the JVM is stuck)",
				      (int)j->pid, sock, open_timeout_ms);
			break;
		}
		nap_ms(wait);
		if (wait < 200)
			wait *= 2;
	}
	unlinkat(dfd, trig, 0);
	close(dfd);
	return fd;
}

static int send_request(int fd, const char *cmdline, char *err, size_t errlen)
{
	/* protocol 1, the jcmd operation, its single argument, two empty ones */
	char req[4096];
	int n = snprintf(req, sizeof(req), "1%cjcmd%c%s%c%c%c", 0, 0, cmdline, 0, 0, 0);
	if (n < 0 || (size_t)n >= sizeof(req))
		return util_err(err, errlen, -E2BIG, "command too long: %s", cmdline);
	int rc = util_write_full(fd, req, (size_t)n);
	if (rc < 0)
		return util_err(err, errlen, rc, "send to the attach socket: %s", strerror(-rc));
	return 0;
}

/* Reads the reply: status line, then the rest to the sink. */
typedef int (*sink_fn)(void *arg, const char *p, size_t n);

static int read_reply(const struct jvm_proc *j, int fd, int timeout_ms, int *status, sink_fn sink,
		      void *arg, char *err, size_t errlen)
{
	char buf[65536], head[16];
	size_t hlen = 0;
	bool have_status = false;
	int64_t deadline = util_mono_ms() + timeout_ms;

	for (;;) {
		int left = (int)(deadline - util_mono_ms());
		if (left <= 0)
			return util_err(err, errlen, -ETIMEDOUT, "JVM pid %d: no complete reply within %d ms",
					(int)j->pid, timeout_ms);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, left > 1000 ? 1000 : left);
		if (pr < 0 && errno != EINTR)
			return util_err(err, errlen, -errno, "poll: %s", strerror(errno));
		if (pr <= 0) {
			if (!alive(j->pid))
				return util_err(err, errlen, -ESRCH, "JVM pid %d exited during the command",
						(int)j->pid);
			continue;
		}
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return util_err(err, errlen, -errno, "read from JVM pid %d: %s", (int)j->pid,
					strerror(errno));
		if (n == 0)
			break;
		size_t off = 0;
		while (!have_status && off < (size_t)n) {
			char c = buf[off++];
			if (c == '\n') {
				head[hlen] = '\0';
				have_status = true;
				*status = atoi(head);
			} else if (hlen + 1 < sizeof(head)) {
				head[hlen++] = c;
			}
		}
		if (have_status && off < (size_t)n) {
			int rc = sink(arg, buf + off, (size_t)n - off);
			if (rc < 0)
				return util_err(err, errlen, rc, "write the reply: %s", strerror(-rc));
		}
	}
	if (!have_status) {
		if (!alive(j->pid))
			return util_err(err, errlen, -ESRCH, "JVM pid %d exited during the command",
					(int)j->pid);
		return util_err(err, errlen, -EPROTO, "JVM pid %d closed the attach socket without a reply",
				(int)j->pid);
	}
	return 0;
}

static int fd_sink(void *arg, const char *p, size_t n)
{
	return util_write_full(*(int *)arg, p, n);
}

struct text {
	char *buf;
	size_t cap, len;
};

static int text_sink(void *arg, const char *p, size_t n)
{
	struct text *t = arg;
	size_t room = t->cap - 1 - t->len;
	if (n > room)
		n = room;
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return 0;
}

static int run(const struct jvm_proc *j, const char *cmdline, int timeout_ms, int *status,
	       sink_fn sink, void *arg, char *err, size_t errlen)
{
	int fd = jvm_attach_connect(j, JVM_ATTACH_OPEN_TIMEOUT_MS, err, errlen);
	if (fd < 0)
		return fd;
	int rc = send_request(fd, cmdline, err, errlen);
	if (rc == 0)
		rc = read_reply(j, fd, timeout_ms, status, sink, arg, err, errlen);
	close(fd);
	return rc;
}

int jvm_attach_jcmd(const struct jvm_proc *j, const char *cmdline, int out_fd, int timeout_ms,
		    int *status, char *err, size_t errlen)
{
	*status = -1;
	return run(j, cmdline, timeout_ms, status, fd_sink, &out_fd, err, errlen);
}

int jvm_attach_jcmd_text(const struct jvm_proc *j, const char *cmdline, char *buf, size_t cap,
			 int timeout_ms, int *status, char *err, size_t errlen)
{
	struct text t = {.buf = buf, .cap = cap, .len = 0};
	*status = -1;
	if (cap)
		buf[0] = '\0';
	if (cap < 2)
		return -EINVAL;
	return run(j, cmdline, timeout_ms, status, text_sink, &t, err, errlen);
}
