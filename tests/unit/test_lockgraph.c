/* test_lockgraph: syscall lines, mutex bytes and wait-for cycles, table-driven. */
#include <errno.h>
#include <string.h>

#include "capture/native/lockgraph.h"
#include "tap.h"

#define NR 202 /* futex on x86-64; the parser takes the number as an argument */

static void syscall_lines(void)
{
	static const struct {
		const char *line;
		int rc;
		enum lock_call call;
		unsigned long long addr;
		int owner;
		const char *what;
	} cases[] = {
	    {"202 0x55d0c8a0 0x80 0x2 0x0 0x0 0x0 0x7ffd1000 0x7f3e5000\n", 0, LOCK_CALL_MUTEX,
	     0x55d0c8a0, 0, "FUTEX_WAIT|PRIVATE on 2: a contended mutex"},
	    {"202 0x1000 0x0 0x2 0x0 0x0 0x0 0x1 0x2\n", 0, LOCK_CALL_MUTEX, 0x1000, 0,
	     "shared FUTEX_WAIT on 2"},
	    {"202 0x1000 0x189 0x2 0x7ffc 0x0 0xffffffff 0x1 0x2\n", 0, LOCK_CALL_MUTEX, 0x1000, 0,
	     "FUTEX_WAIT_BITSET|PRIVATE|CLOCK_REALTIME on 2: pthread_mutex_clocklock"},
	    {"202 0x2000 0x189 0x0 0x0 0x0 0xffffffff 0x1 0x2\n", 0, LOCK_CALL_NONE, 0x2000, 0,
	     "WAIT_BITSET on 0: a condition variable or semaphore"},
	    {"202 0x2000 0x80 0x4 0x0 0x0 0x0 0x1 0x2\n", 0, LOCK_CALL_NONE, 0x2000, 0,
	     "FUTEX_WAIT on another value: not a mutex"},
	    {"202 0x3000 0x86 0x0 0x0 0x0 0x0 0x1 0x2\n", 0, LOCK_CALL_PI, 0x3000, 0,
	     "FUTEX_LOCK_PI|PRIVATE: a priority-inheritance mutex"},
	    {"202 0x3000 0x8d 0x0 0x0 0x0 0x0 0x1 0x2\n", 0, LOCK_CALL_PI, 0x3000, 0,
	     "FUTEX_LOCK_PI2"},
	    {"202 0x4000 0x80 0x800004d2 0x0 0x0 0x0 0x1 0x2\n", 0, LOCK_CALL_ROBUST, 0x4000, 1234,
	     "FUTEX_WAIT on TID|WAITERS: a robust mutex, owner 1234"},
	    {"202 0x4000 0x81 0x2 0x0 0x0 0x0 0x1 0x2\n", 0, LOCK_CALL_NONE, 0x4000, 0,
	     "FUTEX_WAKE is not a wait"},
	    {"7 0x7ffd 0x1 0xffffffff 0x0 0x0 0x0 0x1 0x2\n", 0, LOCK_CALL_NONE, 0, 0,
	     "poll: another system call"},
	    {"running\n", 0, LOCK_CALL_NONE, 0, 0, "a running thread"},
	    {"-1 0x7ffd1000 0x7f3e5000\n", 0, LOCK_CALL_NONE, 0, 0, "blocked outside a call"},
	    {"", -EINVAL, LOCK_CALL_NONE, 0, 0, "empty text"},
	    {"zz 0x1\n", -EINVAL, LOCK_CALL_NONE, 0, 0, "garbage"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lock_syscall sc;
		int rc = lockgraph_parse_syscall(cases[i].line, strlen(cases[i].line), NR, &sc);
		is_int(rc, cases[i].rc, "%s: rc", cases[i].what);
		if (rc < 0)
			continue;
		is_int(sc.call, cases[i].call, "%s: call", cases[i].what);
		if (cases[i].call != LOCK_CALL_NONE)
			is_int((long long)sc.addr, (long long)cases[i].addr, "%s: address",
			       cases[i].what);
		is_int(sc.owner, cases[i].owner, "%s: owner", cases[i].what);
	}
}

static void mutex_bytes(void)
{
	static const struct {
		unsigned lock, count, owner, nusers, kind;
		int want;
		const char *what;
	} cases[] = {
	    {2, 0, 4242, 1, 0, 4242, "normal mutex, contended: owner"},
	    {1, 0, 4242, 1, 0, 4242, "normal mutex, taken"},
	    {2, 2, 4242, 1, 1, 4242, "recursive mutex locked twice"},
	    {2, 0, 4242, 1, 2, 4242, "error-checking mutex"},
	    {2, 0, 4242, 1, 0x102, 4242, "error-checking with elision bits"},
	    {0, 0, 4242, 0, 0, 0, "unlocked: nobody holds it"},
	    {2, 0, 0, 0, 0, 0, "owner not recorded yet"},
	    {2, 0, 4242, 1, 0x7fff0000, 0, "kind bits glibc never sets: not a mutex"},
	    {0x80001111, 0, 0, 1, 0x10, 0x1111, "robust: the owner is the lock word"},
	    {0x2222, 0, 0, 1, 0x20, 0x2222, "priority inheritance: the owner is the lock word"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned m[5] = {cases[i].lock, cases[i].count, cases[i].owner, cases[i].nusers,
				 cases[i].kind};
		is_int(lockgraph_mutex_owner((const unsigned char *)m, sizeof(m)), cases[i].want,
		       "%s", cases[i].what);
	}
	unsigned m[5] = {2, 0, 10, 1, 0};
	is_int(lockgraph_mutex_owner((const unsigned char *)m, 12), 0, "short read: no owner");
}

static size_t graph(const int (*edges)[2], size_t n, struct lock_waiter *w)
{
	for (size_t i = 0; i < n; i++)
		w[i] = (struct lock_waiter){.tid = edges[i][0], .owner = edges[i][1],
					    .addr = 0x1000 + i};
	return lockgraph_find_cycles(w, n);
}

static void cycles(void)
{
	struct lock_waiter w[8];
	static const int two[][2] = {{11, 12}, {12, 11}};
	is_int(graph(two, 2, w), 2, "two threads holding each other's lock: 2 deadlocked");
	ok(w[0].cycle == 1 && w[1].cycle == 1, "both in cycle 1");

	static const int three[][2] = {{30, 10}, {10, 20}, {20, 30}};
	is_int(graph(three, 3, w), 3, "three-thread ring: 3 deadlocked");

	static const int chain[][2] = {{1, 2}, {2, 3}, {4, 3}};
	is_int(graph(chain, 3, w), 0, "waits that end at a running owner: none deadlocked");

	static const int tail[][2] = {{5, 6}, {6, 7}, {7, 6}, {8, 5}};
	is_int(graph(tail, 4, w), 2, "a cycle with waiters hanging off it: only the cycle");
	ok(w[0].cycle == 1 && w[1].cycle == 1 && w[0].tid == 6 && w[1].tid == 7,
	   "cycle members listed first");
	ok(w[2].cycle == 0 && w[3].cycle == 0, "the others follow, not in a cycle");

	static const int self[][2] = {{9, 9}};
	is_int(graph(self, 1, w), 1, "a thread waiting for a lock it holds itself");

	static const int twocycles[][2] = {{1, 2}, {2, 1}, {3, 4}, {4, 3}, {5, 1}};
	is_int(graph(twocycles, 5, w), 4, "two separate cycles: 4 threads");
	ok(w[0].cycle == 1 && w[2].cycle == 2 && w[4].cycle == 0, "numbered 1 and 2, cycles first");

	is_int(lockgraph_find_cycles(w, 0), 0, "no waiters");
}

int main(void)
{
	syscall_lines();
	mutex_bytes();
	cycles();
	return done_testing();
}
