/*
 * privhint: why the kernel refused to let hound look at a process, found out
 * rather than guessed: the process exited, is a zombie, is exiting, exec'd,
 * is already traced, is not dumpable, or hound lacks a capability (and which
 * one, against which uid), or a policy refused despite the capability.
 */
#ifndef HOUND_PRIVHINT_H
#define HOUND_PRIVHINT_H

#include <stddef.h>
#include <sys/types.h>

enum privhint_need {
	PRIVHINT_PTRACE, /* ptrace attach, /proc/PID/mem, smaps of another user */
	PRIVHINT_PERF,	 /* perf_event_open on the process */
};

/*
 * Writes one sentence into out saying why access to pid was refused, from
 * what /proc shows now. expect_comm (may be NULL) is the comm seen before
 * the attempt, to recognise an exec race. Returns out.
 */
const char *privhint_explain(pid_t pid, enum privhint_need need, const char *expect_comm,
			     char *out, size_t len);

/*
 * Pure: the same decision from facts already read (for tests). state is the
 * stat state letter (0 when /proc/PID is gone); flags the stat flags;
 * caps a bitmask of CapEff.
 */
struct privhint_facts {
	char state;
	unsigned long flags;
	pid_t ppid, tracer;
	uid_t target_uid, self_uid, proc_owner;
	unsigned long long caps;		   /* hound's CapEff */
	unsigned long long self_prm, target_prm; /* CapPrm of hound and of the target */
	int yama_scope, perf_paranoid; /* -1 when unknown */
	const char *comm, *expect_comm;
};
const char *privhint_decide(const struct privhint_facts *f, enum privhint_need need, pid_t pid,
			    char *out, size_t len);

#endif
