/* unwind: stop each thread of a process for a moment with ptrace and record its raw call chain. */
#ifndef HOUND_UNWIND_H
#define HOUND_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Frames kept per thread; deeper stacks are cut and marked truncated. */
#define UNWIND_MAX_FRAMES 256

/* One thread's chain. Everything points into the owning unwind_result. */
struct unwind_thread {
	pid_t tid;
	char name[16];	  /* /proc/PID/task/TID/comm, "" when unreadable */
	int err;	  /* 0, or -errno of the step that failed */
	char errmsg[160]; /* "ptrace(PTRACE_SEIZE, 124): Operation not permitted" */
	size_t nframes;
	const uint64_t *ips;	  /* nframes program counters, leaf first */
	const uint8_t *is_return; /* 1 when ips[i] is a return address (look it up at ips[i] - 1) */
	bool truncated;		  /* more than UNWIND_MAX_FRAMES frames */
	int64_t stop_ns;	  /* PTRACE_INTERRUPT to PTRACE_DETACH, 0 when never stopped */
};

/* The chains of every thread of one process; reusable across captures. */
struct unwind_result {
	pid_t pid;
	size_t nthreads; /* threads attempted (those seen in /proc/PID/task) */
	struct unwind_thread *threads;
	size_t nok;	 /* threads with err == 0 */
	int64_t wall_ns; /* whole capture */
	/* private: storage reused by the next capture */
	size_t cap_threads, cap_frames;
	uint64_t *ip_pool;
	uint8_t *ra_pool;
};

typedef struct unwind_session unwind_session;

/*
 * A session keeps libunwind's address space (and its global cache) for one
 * process, so repeated captures of the same process are cheap; the CPU
 * profiler's ptrace fallback samples through one. Never fails for a live PID
 * (errors surface at capture time). Free with unwind_session_free (NULL ok).
 */
unwind_session *unwind_session_new(pid_t pid);
void unwind_session_free(unwind_session *s);

/*
 * Stops each thread of the process in turn (PTRACE_SEIZE, PTRACE_INTERRUPT,
 * waitpid __WALL), unwinds it and detaches it at once, so each thread stops
 * only for its own unwind; threads born during the pass are picked up by one
 * more scan. All ptrace calls happen on a short-lived thread of their own:
 * if anything goes wrong, its exit releases every tracee. Symbolize nothing
 * here: that is done after, with the target running.
 *
 * Fills res (init with unwind_result_init, reuse it freely). Returns 0 when
 * at least one thread was unwound (the others carry per-thread errors), else
 * -errno with a sentence in err naming the PID and the system call: -ESRCH
 * (no such process, or it exited during the capture), -EPERM (no privilege,
 * or another tracer such as a debugger holds it).
 */
int unwind_session_capture(unwind_session *s, struct unwind_result *res, char *err, size_t errlen);

/* One-shot helper: a session for one capture. */
int unwind_capture(pid_t pid, struct unwind_result *res, char *err, size_t errlen);

void unwind_result_init(struct unwind_result *res);
void unwind_result_fini(struct unwind_result *res);

/* Median of the per-thread stop times of the stopped threads, 0 when none. */
int64_t unwind_median_stop_ns(const struct unwind_result *res);

#endif
