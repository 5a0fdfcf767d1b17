/* Unit tests for discovery and selectors, against real child processes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/procs.h"
#include "lib/procfs.h"
#include "lib/util.h"
#include "tap.h"

struct kid {
	pid_t pid;
	char marker[64];
	char cmdline[128];
	uint64_t start_ticks;
	/* filled by the scan callback */
	int seen;
	struct {
		uint64_t start_ticks;
		uid_t uid;
		char comm[32], cmdline[128];
		bool had_cmdline;
	} got;
};

static struct kid kids[2];
static int self_seen, kthread_seen, total_seen;
static pid_t kthreadd = -1;

static bool read_stat(pid_t pid, struct procfs_stat *st)
{
	char path[64], *buf;
	size_t len;
	bool okk;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (util_read_file(path, &buf, &len, 4096) < 0)
		return false;
	okk = procfs_parse_stat(buf, len, st) == 0;
	free(buf);
	return okk;
}

static void spawn(struct kid *k, const char *tag)
{
	struct procfs_stat st;

	/* sleep sums its arguments: the marker is a number unique to this run. */
	snprintf(k->marker, sizeof(k->marker), "0.%d0%s", (int)getpid(), tag);
	snprintf(k->cmdline, sizeof(k->cmdline), "hound-test-target 3600 %s", k->marker);
	k->pid = fork();
	if (k->pid == 0) {
		execl("/bin/sleep", "hound-test-target", "3600", k->marker, (char *)NULL);
		_exit(127);
	}
	/* Wait until the exec happened (comm turns into "sleep"). */
	for (int i = 0; i < 5000; i++) {
		if (read_stat(k->pid, &st) && strcmp(st.comm, "sleep") == 0)
			break;
		usleep(1000);
	}
	k->start_ticks = st.start_ticks;
}

static void on_proc(const struct proc_ident *id, void *arg)
{
	(void)arg;
	total_seen++;
	if (id->pid == getpid())
		self_seen++;
	if (id->pid == kthreadd)
		kthread_seen++;
	for (int i = 0; i < 2; i++) {
		struct kid *k = &kids[i];
		if (id->pid != k->pid)
			continue;
		k->seen++;
		k->got.start_ticks = id->start_ticks;
		k->got.uid = id->uid;
		snprintf(k->got.comm, sizeof(k->got.comm), "%s", id->comm);
		k->got.had_cmdline = id->cmdline != NULL;
		snprintf(k->got.cmdline, sizeof(k->got.cmdline), "%s",
			 id->cmdline ? id->cmdline : "");
	}
}

static void find_kthreadd(void)
{
	struct procfs_stat st;

	if (read_stat(2, &st) && (st.flags & 0x00200000UL))
		kthreadd = 2;
}

static void test_scan(void)
{
	procs_scan *s = NULL;

	is_int(procs_scan_new("/nonexistent-proc", 0, &s), -ENOENT, "a missing proc root is -ENOENT");
	is_int(procs_scan_new("/proc", PROCS_NEED_CMDLINE, &s), 0, "scan context");
	if (!s)
		return;
	for (int round = 1; round <= 2; round++) {
		self_seen = kthread_seen = total_seen = 0;
		is_int(procs_scan_run(s, on_proc, NULL), 0, "scan %d runs", round);
	}
	ok(total_seen > 2, "scan sees processes (%d)", total_seen);
	for (int i = 0; i < 2; i++) {
		struct kid *k = &kids[i];
		is_int(k->seen, 2, "child %d seen once per scan", i);
		is_int(k->got.start_ticks, k->start_ticks, "child %d start ticks", i);
		is_int(k->got.uid, geteuid(), "child %d uid", i);
		is_str(k->got.comm, "sleep", "child %d comm", i);
		is_str(k->got.cmdline, k->cmdline, "child %d cmdline joined by spaces", i);
	}
	is_int(self_seen, 0, "hound itself is never reported");
	if (kthreadd > 0)
		is_int(kthread_seen, 0, "kernel threads are never reported");
	else
		ok(1, "# SKIP no kthreadd visible");
	procs_scan_free(s);

	s = NULL;
	is_int(procs_scan_new(NULL, 0, &s), 0, "scan without cmdline");
	kids[0].seen = 0;
	procs_scan_run(s, on_proc, NULL);
	ok(kids[0].seen == 1 && !kids[0].got.had_cmdline, "cmdline not fetched unless needed");
	procs_scan_free(s);
}

/* An ident as a scan would give it, with exe and cgroup left for lazy reads. */
static struct proc_ident ident(const struct kid *k)
{
	struct proc_ident id = {.pid = k->pid,
				.start_ticks = k->start_ticks,
				.uid = geteuid(),
				.comm = "sleep",
				.cmdline = k->cmdline};
	return id;
}

static void sel_fini(struct selector_conf *sel)
{
	if (sel->cmdline)
		regfree(&sel->cmdline_re);
	if (sel->cgroup)
		regfree(&sel->cgroup_re);
}

static void set_cmdline(struct selector_conf *sel, char *re)
{
	sel->cmdline = re;
	if (regcomp(&sel->cmdline_re, re, REG_EXTENDED | REG_NOSUB) != 0)
		abort();
}

static void set_cgroup(struct selector_conf *sel, char *re)
{
	sel->cgroup = re;
	if (regcomp(&sel->cgroup_re, re, REG_EXTENDED | REG_NOSUB) != 0)
		abort();
}

static void test_selectors(void)
{
	struct proc_ident a = ident(&kids[0]), b = ident(&kids[1]);
	char re[128], exe[PATH_MAX], pidfile[] = "/tmp/hound-test-pidfile-XXXXXX";
	struct selector_conf sel;
	pid_t pp = 0;
	int fd;

	memset(&sel, 0, sizeof(sel));
	ok(!procs_selector_match(&sel, &a, 0), "an empty selector matches nothing");

	sel.comm = "sleep";
	ok(procs_selector_match(&sel, &a, 0) && procs_selector_match(&sel, &b, 0),
	   "comm matches both");
	sel.comm = "slee";
	ok(!procs_selector_match(&sel, &a, 0), "comm is exact, not a prefix");
	memset(&sel, 0, sizeof(sel));

	snprintf(re, sizeof(re), "^hound-test-target( |$).* %s$", kids[0].marker);
	set_cmdline(&sel, re);
	ok(procs_selector_match(&sel, &a, 0), "cmdline ERE matches child A");
	ok(!procs_selector_match(&sel, &b, 0), "cmdline ERE does not match child B");
	is_int(procs_selector_needs(&sel), PROCS_NEED_CMDLINE,
	       "cmdline selector needs the cmdline");
	sel_fini(&sel);
	memset(&sel, 0, sizeof(sel));

	sel.has_pid = true;
	sel.pid = kids[1].pid;
	ok(!procs_selector_match(&sel, &a, 0) && procs_selector_match(&sel, &b, 0), "pid selector");
	is_int(procs_selector_needs(&sel), 0, "pid selector needs nothing extra");
	memset(&sel, 0, sizeof(sel));

	fd = mkstemp(pidfile);
	dprintf(fd, "%d\n", (int)kids[0].pid);
	close(fd);
	is_int(procs_read_pidfile(pidfile, &pp), 0, "pidfile read");
	is_int(pp, kids[0].pid, "pidfile pid");
	sel.pidfile = pidfile;
	ok(procs_selector_match(&sel, &a, pp) && !procs_selector_match(&sel, &b, pp),
	   "pidfile selector matches the pid in the file");
	ok(!procs_selector_match(&sel, &a, 0), "unreadable pidfile matches nothing");
	fd = open(pidfile, O_WRONLY | O_TRUNC);
	dprintf(fd, "12ab\n");
	close(fd);
	is_int(procs_read_pidfile(pidfile, &pp), -EINVAL, "garbage pidfile is -EINVAL");
	unlink(pidfile);
	is_int(procs_read_pidfile(pidfile, &pp), -ENOENT, "missing pidfile is -ENOENT");
	memset(&sel, 0, sizeof(sel));

	sel.user = "me";
	sel.uid = geteuid();
	ok(procs_selector_match(&sel, &a, 0), "user selector (effective uid)");
	sel.uid = geteuid() + 1;
	ok(!procs_selector_match(&sel, &a, 0), "other user does not match");
	memset(&sel, 0, sizeof(sel));

	if (!realpath("/bin/sleep", exe))
		snprintf(exe, sizeof(exe), "/bin/sleep");
	sel.exe = exe;
	ok(procs_selector_match(&sel, &a, 0), "exe selector reads /proc/PID/exe lazily (%s)", exe);
	sel.exe = "/usr/bin/nope";
	ok(!procs_selector_match(&sel, &a, 0), "other exe does not match");
	memset(&sel, 0, sizeof(sel));

	set_cgroup(&sel, "^[0-9]+:[^:]*:/");
	ok(procs_selector_match(&sel, &a, 0), "cgroup ERE on /proc/PID/cgroup content");
	sel_fini(&sel);
	set_cgroup(&sel, "no-such-cgroup");
	ok(!procs_selector_match(&sel, &a, 0), "cgroup ERE that does not match");
	sel_fini(&sel);
	memset(&sel, 0, sizeof(sel));

	/* AND: every given selector must hold. */
	sel.comm = "sleep";
	sel.user = "me";
	sel.uid = geteuid();
	snprintf(re, sizeof(re), " %s$", kids[1].marker);
	set_cmdline(&sel, re);
	ok(!procs_selector_match(&sel, &a, 0) && procs_selector_match(&sel, &b, 0),
	   "comm AND user AND cmdline picks child B only");
	sel.comm = "other";
	ok(!procs_selector_match(&sel, &b, 0), "one failing selector fails the AND");
	sel_fini(&sel);
	memset(&sel, 0, sizeof(sel));

	struct proc_ident me = {.pid = getpid(), .comm = "test_procs"};
	sel.has_pid = true;
	sel.pid = getpid();
	ok(!procs_selector_match(&sel, &me, 0), "hound itself never matches");
}

/* What the last scan said of one PID. */
static pid_t watch_pid;
static char watch_comm[32], watch_cmdline[128];
static int watch_seen;

static void on_watch(const struct proc_ident *id, void *arg)
{
	(void)arg;
	if (id->pid != watch_pid)
		return;
	watch_seen++;
	snprintf(watch_comm, sizeof(watch_comm), "%s", id->comm);
	snprintf(watch_cmdline, sizeof(watch_cmdline), "%s", id->cmdline ? id->cmdline : "");
}

/*
 * The scan reads a process's cmdline once, yet a process that exec's under
 * the same PID (a wrapper script that ends in exec) is seen anew, and one
 * that exits is forgotten.
 */
static void test_incremental(void)
{
	int go[2];
	char c = 'x';
	procs_scan *s = NULL;
	struct procfs_stat st;

	if (pipe(go) < 0 || procs_scan_new(NULL, PROCS_NEED_CMDLINE, &s) < 0) {
		ok(0, "pipe and scan context");
		return;
	}
	watch_pid = fork();
	if (watch_pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) == 1)
			execl("/bin/sleep", "hound-exec-target", "3600", "0.5", (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	watch_seen = 0;
	procs_scan_run(s, on_watch, NULL);
	is_int(watch_seen, 1, "child seen before its exec");
	ok(strstr(watch_cmdline, "hound-exec-target") == NULL, "cmdline before exec: %s",
	   watch_cmdline);
	ok(write(go[1], &c, 1) == 1, "child told to exec");
	for (int i = 0; i < 5000; i++) {
		if (read_stat(watch_pid, &st) && strcmp(st.comm, "sleep") == 0)
			break;
		usleep(1000);
	}
	watch_seen = 0;
	procs_scan_run(s, on_watch, NULL);
	is_int(watch_seen, 1, "child seen after its exec");
	is_str(watch_comm, "sleep", "comm after exec");
	is_str(watch_cmdline, "hound-exec-target 3600 0.5", "cmdline read again after exec");
	kill(watch_pid, SIGKILL);
	waitpid(watch_pid, NULL, 0);
	watch_seen = 0;
	procs_scan_run(s, on_watch, NULL);
	is_int(watch_seen, 0, "an exited child is no longer reported");
	close(go[1]);
	procs_scan_free(s);
}

int main(void)
{
	find_kthreadd();
	spawn(&kids[0], "1");
	spawn(&kids[1], "2");
	test_scan();
	test_incremental();
	test_selectors();
	for (int i = 0; i < 2; i++) {
		kill(kids[i].pid, SIGKILL);
		waitpid(kids[i].pid, NULL, 0);
	}
	return done_testing();
}
