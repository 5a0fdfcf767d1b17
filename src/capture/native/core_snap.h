/* core_snap: a consistent snapshot of a process for a core dump, with the target frozen briefly. */
#ifndef HOUND_CORE_SNAP_H
#define HOUND_CORE_SNAP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* How the memory was frozen. */
enum core_method {
	CORE_FORK,          /* a copy-on-write child; the target ran on while it was written */
	CORE_STOP,          /* every thread stopped while the memory was written */
};
const char *core_method_name(enum core_method m);

struct core_thread {
	pid_t tid;
	char comm[16];
	char state;                     /* from /proc: R, S, D ... */
	int stopsig;                    /* a signal held at its stop, handed back on detach */
	struct user_regs_struct regs;
	struct user_fpregs_struct fpregs;
	uint8_t *xstate;                /* NT_X86_XSTATE bytes, or NULL */
	size_t xstate_len;
	uint64_t sigmask, sigpend;
	bool attached;
};

/* A range of the target hound changed, with its original bytes (put back in the dump). */
struct core_patch {
	uint64_t addr;
	size_t len;
	uint8_t orig[640];
};

struct core_snap {
	pid_t pid;
	enum core_method method;
	pid_t src;                      /* the process whose memory is the snapshot */
	pid_t child;                    /* the snapshot child, 0 when none */
	struct core_thread *threads;
	size_t nthreads;
	int64_t freeze_ns;              /* first stop to last thread resumed (fork) */
	int64_t freeze_start_ns;        /* monotonic, for stop-and-copy's end */
	struct core_patch patch;
	char fallback[512];             /* why fork was not used, "" when it was or not asked */
};

/* Options for core_snap_take. */
struct core_snap_opts {
	bool allow_fork;                /* false: stop-and-copy only */
	unsigned child_bound_s;         /* child's lifetime if hound dies (default 10) */
	uint64_t headroom_need;         /* bytes of free memory copy-on-write may need; 0: compute */
	const char *cgroup_root;        /* "/sys/fs/cgroup" unless a test points elsewhere */
};

/*
 * Stops every thread of pid, records its registers, and either forks a
 * snapshot child and resumes the target at once (CORE_FORK), or leaves the
 * threads stopped (CORE_STOP: release with core_snap_release as soon as the
 * memory is written). When fork is not possible (no memory headroom, no
 * executable hole, pid-namespace init, clone failed) it falls back to
 * CORE_STOP and says why in s->fallback. Returns 0 or -errno with a sentence
 * in err; on error nothing is left stopped.
 */
int core_snap_take(pid_t pid, const struct core_snap_opts *o, struct core_snap *s, char *err,
		   size_t errlen);

/* Kills and reaps the snapshot child, or resumes the stopped threads; frees s. */
void core_snap_release(struct core_snap *s);

#endif
