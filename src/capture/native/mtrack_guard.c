/* mtrack_guard: the cost guard of malloc tracking (what a probed allocator call costs, and the plan). */
#include "capture/native/mtrack_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/native/mtrack_attach.h"
#include "capture/native/mtrack_bpf.h"
#include "lib/util.h"

/* Pairs the child runs per measure: ~50 ms with the probes on this class of machine. */
#define PAIRS 20000
#define CHILD_WAIT_MS 10000

void mtrack_guard_plan(double calls_per_s, double pair_ns, double budget, int64_t want_ms,
		       struct mtrack_plan *out)
{
	double cost = calls_per_s * pair_ns / 1e9;

	memset(out, 0, sizeof(*out));
	out->cost_cores = cost;
	out->duration_ms = want_ms;
	if (cost <= budget || cost <= 0)
		return;
	/* the same CPU the full capture would have cost within budget, spent sooner */
	out->duration_ms = (int64_t)((double)want_ms * budget / cost);
	out->shortened = true;
	if (out->duration_ms < MTRACK_GUARD_MIN_MS) {
		out->duration_ms = 0;
		out->refused = true;
	}
}

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The child's loop; a volatile function pointer keeps the compiler from eliding the pairs. */
static int64_t run_pairs(void)
{
	void *(*volatile alloc)(size_t) = malloc;
	void (*volatile release)(void *) = free;
	int64_t t0 = thread_cpu_ns();

	for (int i = 0; i < PAIRS; i++)
		release(alloc(64 + (size_t)(i & 63)));
	return thread_cpu_ns() - t0;
}

static bool wait_byte(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	return poll(&p, 1, ms) == 1 && read(fd, &c, 1) == 1;
}

/*
 * Child: a baseline, "ready", wait for "go" (the probes attached), the probed
 * run, the numbers. It is not killed with hound (no PDEATHSIG): a uprobe
 * whose process dies while hound, dying too, unregisters it is leaked by the
 * kernel ("failed to unregister, leaking uprobe"). It ends on its own: within
 * CHILD_WAIT_MS without "go", or after the run (a write to a closed pipe
 * fails quietly: SIGPIPE is ignored here).
 */
static void __attribute__((noreturn)) child(int in, int out)
{
	int64_t v[2];

	signal(SIGPIPE, SIG_IGN);
	v[0] = run_pairs();
	if (write(out, "r", 1) != 1 || !wait_byte(in, CHILD_WAIT_MS))
		_exit(1);
	v[1] = run_pairs();
	_exit(write(out, v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : 1);
}

static int measure(uint64_t sample_bytes, double *ns, char *err, size_t errlen)
{
	uint64_t draws[MTRACK_DRAWS];
	int to_child[2], from_child[2];
	mtrack_bpf *m = NULL;
	char mods[256];
	int64_t v[2];
	pid_t pid;
	int rc, status;

	for (size_t i = 0; i < MTRACK_DRAWS; i++)
		draws[i] = sample_bytes;
	if (pipe2(to_child, O_CLOEXEC) < 0)
		return util_err(err, errlen, -errno, "pipe: %s", strerror(errno));
	if (pipe2(from_child, O_CLOEXEC) < 0) {
		rc = util_err(err, errlen, -errno, "pipe: %s", strerror(errno));
		close(to_child[0]);
		close(to_child[1]);
		return rc;
	}
	pid = fork();
	if (pid == 0)
		child(to_child[0], from_child[1]);
	close(to_child[0]);
	close(from_child[1]);
	if (pid < 0) {
		rc = util_err(err, errlen, -errno, "fork: %s", strerror(errno));
		goto out;
	}
	rc = -ETIMEDOUT;
	if (!wait_byte(from_child[0], CHILD_WAIT_MS)) {
		util_err(err, errlen, rc, "the cost probe (pid %d) did not start", (int)pid);
		goto out;
	}
	rc = mtrack_bpf_open(pid, draws, &m, err, errlen);
	if (rc == 0)
		rc = mtrack_attach_process(m, pid, mods, sizeof(mods), err, errlen);
	if (rc < 0)
		goto out;
	mtrack_bpf_set_tracking(m, true);
	rc = write(to_child[1], "g", 1) == 1 ? 0 : -EPIPE;
	if (rc == 0) {
		struct pollfd p = {.fd = from_child[0], .events = POLLIN};
		if (poll(&p, 1, CHILD_WAIT_MS) != 1 ||
		    util_read_full(from_child[0], v, sizeof(v)) != (ssize_t)sizeof(v))
			rc = util_err(err, errlen, -ETIMEDOUT, "the cost probe (pid %d) did not answer",
				      (int)pid);
	}
	if (rc == 0) {
		struct mtrack_bpf_counts c;

		/* probes that never fired measure nothing: not a cost of zero */
		mtrack_bpf_counts(m, &c);
		if (c.alloc_calls < PAIRS)
			rc = util_err(err, errlen, -ENOENT,
				      "the cost probe's allocator calls were not seen (%llu of %d)",
				      (unsigned long long)c.alloc_calls, PAIRS);
		else
			*ns = fmax((double)(v[1] - v[0]) / PAIRS, 1.0);
	}
out:
	mtrack_bpf_free(m);
	close(to_child[1]);
	close(from_child[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	return rc;
}

static pthread_mutex_t cost_lock = PTHREAD_MUTEX_INITIALIZER;
static double cost_ns;

int mtrack_guard_pair_cost(uint64_t sample_bytes, double *ns, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&cost_lock);
	if (cost_ns <= 0)
		rc = measure(sample_bytes, &cost_ns, err, errlen);
	*ns = cost_ns;
	pthread_mutex_unlock(&cost_lock);
	return rc;
}
