/* lockgraph: who waits for which pthread mutex and who holds it, read from outside. */
#ifndef HOUND_LOCKGRAPH_H
#define HOUND_LOCKGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Nothing here stops the target: each thread's blocking system call comes
 * from /proc/PID/task/TID/syscall, and the owner of a glibc mutex from the
 * mutex itself (its __owner field, through /proc/PID/mem). A thread counts as
 * waiting on a lock only when its futex call is the one glibc makes for a
 * contended mutex, so condition variables, semaphores and idle pools never do.
 */

/* What one /proc/PID/task/TID/syscall line says about a futex wait. */
enum lock_call {
	LOCK_CALL_NONE,     /* not a mutex wait */
	LOCK_CALL_MUTEX,    /* FUTEX_WAIT(_BITSET) with the contended value 2: owner in the mutex */
	LOCK_CALL_PI,       /* FUTEX_LOCK_PI(2): the owner TID is the futex word */
	LOCK_CALL_ROBUST,   /* FUTEX_WAIT on TID|FUTEX_WAITERS: the owner TID is the value */
};

struct lock_syscall {
	enum lock_call call;
	uint64_t addr;      /* the futex word */
	pid_t owner;        /* known from the call itself (PI, robust), else 0 */
};

/*
 * Parses one syscall file ("202 0x55d0 0x80 0x2 0x0 0x0 0x0 0x7ffc 0x7f3e",
 * "running", "-1 0x... 0x..."). futex_nr is the futex system call number of
 * the target's architecture. Pure. Returns 0 (out->call says what it is) or
 * -EINVAL for text it cannot read.
 */
int lockgraph_parse_syscall(const char *buf, size_t len, long futex_nr, struct lock_syscall *out);

/*
 * Checks the first 20 bytes of a pthread_mutex_t read from the target
 * (glibc x86-64/aarch64: __lock at 0, __owner at 8, __kind at 16): the lock
 * is taken and contended, the kind is one glibc defines. Pure. Returns the
 * owner TID, or 0 when these bytes are not a held mutex.
 */
pid_t lockgraph_mutex_owner(const unsigned char *m, size_t len);

/* One thread waiting on a held lock. */
struct lock_waiter {
	pid_t tid;
	pid_t owner;          /* holder TID (may have exited: owner_alive) */
	uint64_t addr;        /* the lock */
	bool owner_alive;     /* the owner is a thread of this process */
	int cycle;            /* 1-based id of the wait-for cycle it is in, 0 when none */
	int64_t since_ms;     /* monotonic: first seen waiting here without running since */
	uint64_t run_ns;      /* schedstat: time on CPU and timeslices when first seen */
	uint64_t slices;
};

/*
 * Marks the threads that are in a wait-for cycle (waiter -> owner -> ... ->
 * waiter, including a thread waiting for a lock it holds itself). Each
 * waiter waits for one lock, so the graph has out-degree 1 and every cycle is
 * found by one walk. Pure. Returns the number of threads in cycles.
 */
size_t lockgraph_find_cycles(struct lock_waiter *w, size_t n);

typedef struct lockgraph lockgraph;

/* Opens the view of pid (keeps /proc/PID/task and /proc/PID/mem open). 0 or -errno. */
int lockgraph_open(pid_t pid, lockgraph **out);
void lockgraph_free(lockgraph *g);

/*
 * Reads every thread's system call and, for mutex waits, the mutex owner;
 * rebuilds the graph and its cycles. A thread that was waiting on the same
 * lock at the previous scan and has not run since keeps its since_ms, so
 * lockgraph_longest_wait_ms measures a wait across scans. Returns 0, -ESRCH
 * when the process is gone, -EACCES/-EPERM without ptrace access (with a
 * sentence in err).
 */
int lockgraph_scan(lockgraph *g, int64_t mono_ms, char *err, size_t errlen);
/* The waiters of the last scan, cycles first (by cycle id), then by TID. */
const struct lock_waiter *lockgraph_waiters(const lockgraph *g, size_t *n);
/* Threads in a cycle at the last scan. */
size_t lockgraph_deadlocked(const lockgraph *g);
/* The longest current wait at the last scan, ms (0 when nothing waits). */
int64_t lockgraph_longest_wait_ms(const lockgraph *g, int64_t mono_ms);
/* Threads of the process at the last scan. */
size_t lockgraph_nthreads(const lockgraph *g);

#endif
