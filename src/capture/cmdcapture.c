/* cmdcapture: the `command` capture kind (an argv run without a shell, time-limited, output into
 * the bundle). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np */
#endif
#include "capture/cmdcapture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "lib/metric.h"
#include "lib/util.h"

extern char **environ;

/* After SIGKILL, a process stuck in the kernel gets this long before we give up on it. */
#define REAP_GIVE_UP_MS 10000
/* Poll slice when we must also watch *ctx->stop or have no pidfd. */
#define STOP_POLL_MS 100
#define NOPIDFD_POLL_MS 20
#define READ_CHUNK (64 * 1024)

char *cmdcapture_subst(const char *arg, int pid, const char *dir)
{
	char pidbuf[16];
	size_t plen, dlen = strlen(dir), n = 0;
	const char *p;
	char *out, *o;

	plen = (size_t)snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	for (p = arg; *p;) {
		if (!strncmp(p, "{pid}", 5)) {
			n += plen;
			p += 5;
		} else if (!strncmp(p, "{dir}", 5)) {
			n += dlen;
			p += 5;
		} else {
			n++;
			p++;
		}
	}
	out = o = xmalloc(n + 1);
	for (p = arg; *p;) {
		if (!strncmp(p, "{pid}", 5)) {
			memcpy(o, pidbuf, plen);
			o += plen;
			p += 5;
		} else if (!strncmp(p, "{dir}", 5)) {
			memcpy(o, dir, dlen);
			o += dlen;
			p += 5;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* "200ms", "30s", "2m", "1m30s". */
static void fmt_ms(int64_t ms, char *buf, size_t len)
{
	if (ms < 1000 || ms % 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms > 60000)
		snprintf(buf, len, "%lldm%llds", (long long)(ms / 60000),
			 (long long)(ms % 60000 / 1000));
	else
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
}

/* Creates the first free command-N.txt in dir; name receives "command-N.txt". */
static int open_output(const char *dir, char *name, size_t namelen)
{
	char path[PATH_MAX];
	for (int n = 1; n < 10000; n++) {
		snprintf(name, namelen, "command-%d.txt", n);
		if (!util_snprintf(path, sizeof(path), "%s/%s", dir, name))
			return -ENAMETOOLONG;
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

static int spawn(char **argv, int outfd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int rc;

	sigemptyset(&none);
	/* Dispositions the agent ignores would survive exec; give the command defaults. */
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGQUIT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGUSR1);
	sigaddset(&dfl, SIGUSR2);
	sigaddset(&dfl, SIGXFSZ);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outfd, 1);
	posix_spawn_file_actions_adddup2(&fa, outfd, 2);
	/* The agent's own descriptors (kept /proc fds, sockets) stay out of the command. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* True when pid has exited; it stays unreaped, so its group id cannot be reused. */
static bool exited(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

struct run {
	pid_t pid;
	int pipefd, filefd, pidfd;
	uint64_t kept, dropped;
	int write_err;
	bool timed_out, stopped, killed, gave_up, stragglers;
};

/* Reads what the pipe has; closes it at EOF. Returns false when it would block. */
static bool pump(struct run *r, char *buf)
{
	ssize_t n = read(r->pipefd, buf, READ_CHUNK);
	if (n < 0)
		return errno == EINTR;
	if (n == 0) {
		close(r->pipefd);
		r->pipefd = -1;
		return false;
	}
	uint64_t room = r->kept < CMDCAPTURE_MAX_OUTPUT ? CMDCAPTURE_MAX_OUTPUT - r->kept : 0;
	size_t keep = (uint64_t)n < room ? (size_t)n : (size_t)room;
	if (keep && !r->write_err) {
		int rc = util_write_full(r->filefd, buf, keep);
		if (rc < 0)
			r->write_err = rc;
	}
	r->kept += keep;
	r->dropped += (uint64_t)n - keep;
	return true;
}

/* Runs until the command exits (or we give up on it), reading its output. */
static void supervise(struct run *r, int64_t timeout_ms, volatile sig_atomic_t *stop)
{
	int64_t start = util_mono_ms(), next = start + timeout_ms;
	int phase = 0; /* 0 running, 1 SIGTERM sent, 2 SIGKILL sent */
	char *buf = xmalloc(READ_CHUNK);

	for (;;) {
		int64_t now = util_mono_ms();
		if (exited(r->pid))
			break;
		if (phase == 0 && (now >= next || (stop && *stop))) {
			if (now >= next)
				r->timed_out = true;
			else
				r->stopped = true;
			kill(-r->pid, SIGTERM);
			phase = 1;
			next = now + CMDCAPTURE_KILL_GRACE_MS;
		} else if (phase == 1 && now >= next) {
			kill(-r->pid, SIGKILL);
			r->killed = true;
			phase = 2;
			next = now + REAP_GIVE_UP_MS;
		} else if (phase == 2 && now >= next) {
			r->gave_up = true;
			break;
		}
		int64_t wait = next - now;
		if (stop && phase == 0 && wait > STOP_POLL_MS)
			wait = STOP_POLL_MS;
		if (r->pidfd < 0 && wait > NOPIDFD_POLL_MS)
			wait = NOPIDFD_POLL_MS;
		struct pollfd pf[2];
		int npf = 0, pipe_i = -1;
		if (r->pipefd >= 0) {
			pipe_i = npf;
			pf[npf++] = (struct pollfd){.fd = r->pipefd, .events = POLLIN};
		}
		if (r->pidfd >= 0)
			pf[npf++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
		int pr = poll(pf, (nfds_t)npf, (int)(wait < 0 ? 0 : wait));
		if (pr > 0 && pipe_i >= 0 && (pf[pipe_i].revents & (POLLIN | POLLHUP | POLLERR)))
			pump(r, buf);
	}
	/* The leader is gone (still unreaped): take what is left in the pipe. */
	if (r->pipefd >= 0) {
		fcntl(r->pipefd, F_SETFL, fcntl(r->pipefd, F_GETFL) | O_NONBLOCK);
		while (r->pipefd >= 0 && pump(r, buf))
			;
	}
	/* Someone in its group still holds the pipe: they would block us forever. */
	if (r->pipefd >= 0 && !r->gave_up) {
		r->stragglers = true;
		kill(-r->pid, SIGKILL);
	}
	free(buf);
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", (unsigned)status);
}

/* "argv0 arg1 ...: outcome", cut to fit. */
static void make_note(char **argv, const char *outcome, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; argv[i] && used + 1 < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? " " : "", argv[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used + 1 < len)
		snprintf(buf + used, len - used, ": %s", outcome);
}

/* Appends hound's remarks to the output file so a reader sees them in place. */
static void annotate(struct run *r, const char *timeout_s)
{
	char line[256], sz[32];
	if (r->dropped) {
		metric_format(M_RSS, CMDCAPTURE_MAX_OUTPUT, sz, sizeof(sz));
		snprintf(line, sizeof(line),
			 "\n[hound: output truncated at %s; %llu more bytes dropped]\n", sz,
			 (unsigned long long)r->dropped);
		util_write_full(r->filefd, line, strlen(line));
	}
	if (r->timed_out || r->stopped) {
		char why[64];
		if (r->timed_out)
			snprintf(why, sizeof(why), "timed out after %s", timeout_s);
		else
			snprintf(why, sizeof(why), "agent shutting down");
		snprintf(line, sizeof(line), "\n[hound: %s; sent SIGTERM%s to the process group]\n",
			 why, r->killed ? " then SIGKILL" : "");
		util_write_full(r->filefd, line, strlen(line));
	}
	if (r->stragglers) {
		snprintf(line, sizeof(line),
			 "\n[hound: processes left in the command's group held its output open; "
			 "killed]\n");
		util_write_full(r->filefd, line, strlen(line));
	}
}

int command_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		    size_t errlen)
{
	const char *dir = bundle_dir(ctx->bundle);
	int64_t timeout_ms =
	    item->timeout_ms > 0 ? item->timeout_ms : CMDCAPTURE_DEFAULT_TIMEOUT_MS;
	struct run r = {.pipefd = -1, .filefd = -1, .pidfd = -1};
	char name[32], path[PATH_MAX], tmo[32], st_s[96], note[512];
	char **argv;
	size_t argc = 0;
	int p[2], status = 0, rc;

	if (!item->argv || !item->argv[0]) {
		snprintf(err, errlen, "command: empty argv");
		return -EINVAL;
	}
	while (item->argv[argc])
		argc++;
	argv = xcalloc(argc + 1, sizeof(*argv));
	for (size_t i = 0; i < argc; i++)
		argv[i] = cmdcapture_subst(item->argv[i], (int)ctx->pid, dir);
	fmt_ms(timeout_ms, tmo, sizeof(tmo));

	r.filefd = open_output(dir, name, sizeof(name));
	if (r.filefd < 0) {
		rc = r.filefd;
		snprintf(err, errlen, "command %s: create output in %s: %s", argv[0], dir,
			 strerror(-rc));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (pipe2(p, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "command %s: pipe2: %s", argv[0], strerror(-rc));
		goto out_file;
	}
	rc = spawn(argv, p[1], &r.pid);
	close(p[1]);
	r.pipefd = p[0];
	if (rc < 0) {
		snprintf(err, errlen, "execvp(%s): %s", argv[0], strerror(-rc));
		close(r.pipefd);
		goto out_file;
	}
	r.pidfd = open_pidfd(r.pid);
	supervise(&r, timeout_ms, ctx->stop);
	if (r.pipefd >= 0)
		close(r.pipefd);
	if (r.pidfd >= 0)
		close(r.pidfd);
	if (!r.gave_up && waitpid(r.pid, &status, 0) < 0)
		status = 0;
	annotate(&r, tmo);
	close(r.filefd);
	r.filefd = -1;

	describe_status(status, st_s, sizeof(st_s));
	rc = bundle_add_file(ctx->bundle, name, "command", "text");
	if (rc < 0)
		snprintf(err, errlen, "command %s: register %s: %s", argv[0], name, strerror(-rc));
	else if (r.write_err) {
		rc = r.write_err;
		snprintf(err, errlen, "command %s: write(%s): %s", argv[0], path, strerror(-rc));
	} else if (r.gave_up) {
		rc = -ETIMEDOUT;
		snprintf(err, errlen,
			 "command %s: timed out after %s and did not exit after SIGKILL", argv[0],
			 tmo);
	} else if (r.timed_out) {
		rc = -ETIMEDOUT;
		snprintf(err, errlen, "command %s: timed out after %s", argv[0], tmo);
	} else if (r.stopped) {
		rc = -ECANCELED;
		snprintf(err, errlen, "command %s: stopped early, agent shutting down", argv[0]);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = -EIO;
		snprintf(err, errlen, "command %s: %s", argv[0], st_s);
	}
	make_note(argv,
		  r.timed_out ? "timed out"
		  : r.stopped ? "stopped"
			      : st_s,
		  note, sizeof(note));
	bundle_add_note(ctx->bundle, name, note);
	goto out;

out_file:
	close(r.filefd);
	unlink(path);
out:
	for (size_t i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	return rc;
}
