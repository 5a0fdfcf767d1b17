/* privhint: the checked reason a process refused inspection. */
#include "capture/native/privhint.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAP_BIT(n)     (1ULL << (n))
#define CAP_SYS_PTRACE 19
#define CAP_SYS_ADMIN  21
#define CAP_PERFMON    38
#define PF_EXITING     0x4UL

const char *privhint_decide(const struct privhint_facts *f, enum privhint_need need, pid_t pid,
			    char *out, size_t len)
{
	bool ptrace_cap = f->caps & CAP_BIT(CAP_SYS_PTRACE);
	bool perf_cap = f->caps & (CAP_BIT(CAP_PERFMON) | CAP_BIT(CAP_SYS_ADMIN));
	bool other_user = f->target_uid != f->self_uid;

	if (!f->state) {
		snprintf(out, len, "process %d has exited", (int)pid);
	} else if (f->state == 'Z') {
		snprintf(out, len,
			 "process %d is a zombie: it has exited and its parent (PID %d) has not "
			 "reaped it; there is nothing left to inspect",
			 (int)pid, (int)f->ppid);
	} else if (f->state == 'X' || (f->flags & PF_EXITING)) {
		snprintf(out, len, "process %d is exiting", (int)pid);
	} else if (f->expect_comm && f->comm && strcmp(f->expect_comm, f->comm) != 0) {
		snprintf(out, len,
			 "process %d ran exec during the capture ('%s' is now '%s'); an exec "
			 "refuses tracers while it replaces the program",
			 (int)pid, f->expect_comm, f->comm);
	} else if (need == PRIVHINT_PTRACE && f->tracer > 0) {
		snprintf(out, len, "process %d is already traced by PID %d (a debugger?)", (int)pid,
			 (int)f->tracer);
	} else if (!ptrace_cap && other_user) {
		snprintf(out, len,
			 "hound lacks CAP_SYS_PTRACE and process %d runs as uid %u (hound: uid %u)%s",
			 (int)pid, (unsigned)f->target_uid, (unsigned)f->self_uid,
			 need == PRIVHINT_PERF && !perf_cap && f->perf_paranoid >= 2
			     ? "; profiling it also needs CAP_PERFMON (perf_event_paranoid >= 2)"
			     : "");
	} else if (!ptrace_cap && (f->target_prm & ~f->self_prm)) {
		snprintf(out, len,
			 "process %d holds capabilities hound does not (CapPrm %llx, hound %llx): "
			 "tracing it needs CAP_SYS_PTRACE, which hound lacks",
			 (int)pid, f->target_prm, f->self_prm);
	} else if (!ptrace_cap && f->proc_owner != f->target_uid) {
		snprintf(out, len,
			 "process %d is not dumpable (a setuid/setcap program, or "
			 "prctl(PR_SET_DUMPABLE, 0)): only CAP_SYS_PTRACE may inspect it, and "
			 "hound lacks it",
			 (int)pid);
	} else if (need == PRIVHINT_PTRACE && f->yama_scope == 3) {
		snprintf(out, len, "kernel.yama.ptrace_scope is 3: no process may be traced");
	} else if (need == PRIVHINT_PTRACE && !ptrace_cap && f->yama_scope >= 1) {
		snprintf(out, len,
			 "kernel.yama.ptrace_scope is %d: without CAP_SYS_PTRACE hound may trace "
			 "only its own descendants",
			 f->yama_scope);
	} else if (need == PRIVHINT_PERF && !perf_cap && f->perf_paranoid >= 2) {
		snprintf(out, len,
			 "hound lacks CAP_PERFMON and kernel.perf_event_paranoid is %d",
			 f->perf_paranoid);
	} else {
		snprintf(out, len,
			 "refused although hound has %s: a security policy (seccomp, AppArmor, "
			 "SELinux) or a container runtime denied it",
			 need == PRIVHINT_PERF ? (perf_cap ? "CAP_PERFMON" : "the needed rights")
					       : (ptrace_cap ? "CAP_SYS_PTRACE" : "the same uid"));
	}
	return out;
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static int read_int(const char *path)
{
	char buf[32];
	return read_small(path, buf, sizeof(buf)) > 0 ? atoi(buf) : -1;
}

/* The value after "Key:" in a /proc status text, or NULL. */
static const char *field(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ':')
			return p + kl + 1;
	return NULL;
}

const char *privhint_explain(pid_t pid, enum privhint_need need, const char *expect_comm,
			     char *out, size_t len)
{
	struct privhint_facts f = {.yama_scope = -1, .perf_paranoid = -1,
				   .expect_comm = expect_comm};
	char path[64], buf[4096], comm[32] = "";
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) > 0) {
		const char *rp = strrchr(buf, ')');
		const char *lp = strchr(buf, '(');
		if (lp && rp && rp > lp) {
			snprintf(comm, sizeof(comm), "%.*s", (int)(rp - lp - 1), lp + 1);
			f.comm = comm;
			int ppid = 0;
			unsigned long flags = 0;
			/* state ppid pgrp session tty_nr tpgid flags */
			if (sscanf(rp + 2, "%c %d %*d %*d %*d %*d %lu", &f.state, &ppid, &flags) >= 2) {
				f.ppid = ppid;
				f.flags = flags;
			}
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof(buf)) > 0) {
		const char *v;
		if ((v = field(buf, "TracerPid")))
			f.tracer = (pid_t)atoi(v);
		if ((v = field(buf, "Uid")))
			f.target_uid = (uid_t)strtoul(v, NULL, 10);
		if ((v = field(buf, "CapPrm")))
			f.target_prm = strtoull(v, NULL, 16);
	}
	if (read_small("/proc/self/status", buf, sizeof(buf)) > 0) {
		const char *v = field(buf, "CapEff");
		if (v)
			f.caps = strtoull(v, NULL, 16);
		if ((v = field(buf, "CapPrm")))
			f.self_prm = strtoull(v, NULL, 16);
	}
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	f.proc_owner = stat(path, &st) == 0 ? st.st_uid : f.target_uid;
	f.self_uid = geteuid();
	f.yama_scope = read_int("/proc/sys/kernel/yama/ptrace_scope");
	f.perf_paranoid = read_int("/proc/sys/kernel/perf_event_paranoid");
	return privhint_decide(&f, need, pid, out, len);
}
