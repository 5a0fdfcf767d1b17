/* Unit tests for the per-process sampler, against the real /proc of forked children. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/proc.h"
#include "lib/fdbudget.h"
#include "lib/util.h"
#include "tap.h"

#define ALL PROC_NATIVE_MASK
#define BIG (64u << 20)

struct child {
	pid_t pid;
	int cmd, ack;
};

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void burn_cpu_ms(long ms)
{
	struct timespec a, b;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	do
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

/* The child obeys one-byte commands and acknowledges each with one byte. */
static void child_loop(int cmd, int ack)
{
	pthread_t t;
	char c;

	while (read(cmd, &c, 1) == 1) {
		switch (c) {
		case 'm': {
			char *p = malloc(BIG);
			memset(p, 1, BIG);
			break;
		}
		case 't':
			pthread_create(&t, NULL, sleeper, NULL);
			break;
		case 'f':
			for (int i = 0; i < 10; i++)
				open("/dev/null", O_RDONLY);
			break;
		case 'c':
			burn_cpu_ms(200);
			break;
		case 'q':
			_exit(write(ack, &c, 1) == 1 ? 0 : 1);
		}
		if (write(ack, &c, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

static struct child spawn(void)
{
	int to[2], from[2];
	struct child ch;

	if (pipe(to) < 0 || pipe(from) < 0)
		abort();
	ch.pid = fork();
	if (ch.pid == 0) {
		close(to[1]);
		close(from[0]);
		child_loop(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	ch.cmd = to[1];
	ch.ack = from[0];
	return ch;
}

static void tell(struct child *ch, char c)
{
	char r;

	if (write(ch->cmd, &c, 1) != 1 || read(ch->ack, &r, 1) != 1)
		printf("# child did not acknowledge '%c'\n", c);
}

static int sample(proc_handle *h, host_sampler *host, uint64_t mask, struct proc_sample *s)
{
	return proc_handle_sample(h, host, mask, util_mono_ms(), util_wall_ms(), s);
}

#define HAS(s, m) (((s).valid & METRIC_BIT(m)) != 0)

static void test_metrics(host_sampler *host)
{
	struct child ch = spawn();
	struct proc_sample s1, s2, s3;
	proc_handle *h = NULL;
	int64_t now = util_wall_ms();

	tell(&ch, 'f'); /* make sure the child runs before we look */
	is_int(proc_handle_open("/proc", "/sys/fs/cgroup", ch.pid, 0, &h), 0, "open a live child");
	if (!h)
		return;
	is_int(proc_handle_pid(h), ch.pid, "pid");
	ok(proc_handle_start_ticks(h) > 0, "start ticks read");
	ok(llabs(proc_handle_start_wall_ms(h) - now) < 60000,
	   "start wall time is within a minute of now (btime + ticks)");
	ok(proc_handle_cgroup(h) != NULL, "cgroup line: '%s'", proc_handle_cgroup(h));
	ok(proc_handle_mem_limit(h) > 0, "memory limit is known");

	is_int(sample(h, host, ALL, &s1), 0, "first sample");
	ok(!HAS(s1, M_CPU) && !HAS(s1, M_SCHED_WAIT), "deltas invalid on the first sample");
	ok(HAS(s1, M_RSS) && s1.v[M_RSS] > 0, "rss valid");
	ok(HAS(s1, M_RSS_ANON) && s1.v[M_RSS_ANON] > 0, "rss_anon valid");
	is_double(s1.v[M_THREADS], 1, 0, "one thread");
	ok(HAS(s1, M_FDS) && s1.v[M_FDS] >= 13, "fds counted (%g)", s1.v[M_FDS]);
	is_double(s1.v[M_MEM], s1.v[M_RSS] / proc_handle_mem_limit(h) * 100, 1e-9,
		  "mem = rss / limit");
	ok(host_sampler_psi_cpu(host) < 0 || HAS(s1, M_PSI_CPU),
	   "psi_cpu present when the kernel has PSI");
	ok(host_sampler_psi_memory(host) < 0 || HAS(s1, M_PSI_MEMORY),
	   "psi_memory present when the kernel has PSI");

	tell(&ch, 'm');
	tell(&ch, 't');
	tell(&ch, 't');
	tell(&ch, 't');
	tell(&ch, 'f');
	tell(&ch, 'c');
	is_int(sample(h, host, ALL, &s2), 0, "second sample");
	ok(s2.v[M_RSS] - s1.v[M_RSS] >= BIG * 0.9, "rss grew by the 64 MiB the child touched");
	ok(s2.v[M_RSS_ANON] - s1.v[M_RSS_ANON] >= BIG * 0.9, "rss_anon grew as well");
	is_double(s2.v[M_THREADS], 4, 0, "three new threads counted");
	is_double(s2.v[M_FDS] - s1.v[M_FDS], 10, 0, "ten new fds counted");
	ok(HAS(s2, M_CPU) && s2.v[M_CPU] > 0, "cpu valid and positive after a burn (%g%%)",
	   s2.v[M_CPU]);
	ok(HAS(s2, M_SCHED_WAIT) && s2.v[M_SCHED_WAIT] >= 0,
	   "sched_wait valid on the second sample");

	/* Only what is asked for is filled. */
	is_int(sample(h, host, METRIC_BIT(M_THREADS), &s3), 0, "threads-only sample");
	is_int(s3.valid, METRIC_BIT(M_THREADS), "only threads valid");
	is_int(proc_handle_nfds(h), 6, "kept fds: dir, stat, statm, status, schedstat, fd/");

	tell(&ch, 'q');
	waitpid(ch.pid, NULL, 0);
	is_int(sample(h, host, ALL, &s3), -ESRCH, "-ESRCH once the child is gone");
	is_int(s3.valid, 0, "nothing valid from a gone process");
	is_int(sample(h, host, ALL, &s3), -ESRCH, "the handle stays dead");
	proc_handle_free(h);
	close(ch.cmd);
	close(ch.ack);
}

static void test_identity(void)
{
	struct child ch = spawn();
	struct proc_sample s;
	proc_handle *h = NULL;
	uint64_t ticks;

	tell(&ch, 'f');
	is_int(proc_handle_open("/proc", "/sys/fs/cgroup", ch.pid, 0, &h), 0, "open by pid only");
	ticks = h ? proc_handle_start_ticks(h) : 0;
	if (h) {
		is_int(sample(h, NULL, METRIC_BIT(M_THREADS), &s), 0, "threads-only sample");
		is_int(proc_handle_nfds(h), 2,
		       "a threads-only handle keeps only dir and stat open");
	}
	proc_handle_free(h);
	h = NULL;
	is_int(proc_handle_open("/proc", "/sys/fs/cgroup", ch.pid, ticks, &h), 0,
	       "open with the right start ticks");
	proc_handle_free(h);
	h = (proc_handle *)1;
	is_int(proc_handle_open("/proc", "/sys/fs/cgroup", ch.pid, ticks + 1, &h), -ESRCH,
	       "same pid, other start time (a reused pid) is rejected");
	ok(h == NULL, "no handle on rejection");

	/* A zombie is gone for sampling purposes. */
	h = NULL;
	proc_handle_open("/proc", "/sys/fs/cgroup", ch.pid, ticks, &h);
	tell(&ch, 'q');
	for (int i = 0; i < 1000; i++) {
		siginfo_t si = {0};
		if (waitid(P_PID, (id_t)ch.pid, &si, WEXITED | WNOWAIT | WNOHANG) == 0 && si.si_pid)
			break;
		usleep(1000);
	}
	is_int(h ? sample(h, NULL, ALL, &s) : 0, -ESRCH, "an unreaped zombie samples as -ESRCH");
	proc_handle_free(h);
	h = (proc_handle *)1;
	is_int(proc_handle_open("/proc", "/sys/fs/cgroup", ch.pid, 0, &h), -ESRCH,
	       "opening a zombie is -ESRCH");
	waitpid(ch.pid, NULL, 0);
	h = (proc_handle *)1;
	is_int(proc_handle_open("/proc", "/sys/fs/cgroup", ch.pid, 0, &h), -ESRCH,
	       "opening a reaped pid is -ESRCH");
	close(ch.cmd);
	close(ch.ack);
}

static void test_host(host_sampler *host)
{
	ok(host_sampler_mem_total(host) > 0, "MemTotal from the host sampler");
	is_int(host_sampler_refresh(host), 0, "refresh");
	host_sampler *bad = (host_sampler *)1;
	is_int(host_sampler_new("/nonexistent", &bad), -ENOENT, "host sampler on a missing root");
	ok(bad == NULL, "no sampler on error");
}

/* Past the fd budget, a process is sampled with open/read/close, just as right. */
static void test_budget(host_sampler *host)
{
	struct child ch = spawn();
	proc_handle *kept = NULL, *unkept = NULL;
	struct proc_sample a, b;
	struct fdbudget_stats st;
	uint64_t mask = METRIC_BIT(M_RSS) | METRIC_BIT(M_FDS) | METRIC_BIT(M_THREADS);

	fdbudget_set_limit(64 + 2); /* a reserve of 64 leaves room for one handle's 2 fds */
	is_int(proc_handle_open("/proc", "/sys/fs/cgroup", ch.pid, 0, &kept), 0, "within budget");
	is_int(proc_handle_open("/proc", "/sys/fs/cgroup", ch.pid, 0, &unkept), 0,
	       "past the budget, still opened");
	fdbudget_get(&st);
	is_int(st.kept, 2, "2 fds kept");
	is_int(st.degraded, 1, "one process degraded");
	is_int(proc_handle_nfds(unkept), 0, "the degraded handle keeps no fd");
	is_int(sample(kept, host, mask, &a), 0, "sample kept");
	is_int(sample(unkept, host, mask, &b), 0, "sample degraded");
	ok(HAS(b, M_RSS) && HAS(b, M_FDS) && HAS(b, M_THREADS), "degraded: rss, fds, threads valid");
	is_double(b.v[M_RSS], a.v[M_RSS], a.v[M_RSS] * 0.1, "degraded rss matches the kept one");
	is_double(b.v[M_FDS], a.v[M_FDS], 0.5, "degraded fd count matches");
	is_int(proc_handle_nfds(unkept), 0, "and still keeps no fd after sampling");
	fdbudget_get(&st);
	is_int(st.kept, 2, "the kept handle's statm/fd opens found no budget left");
	tell(&ch, 'q');
	waitpid(ch.pid, NULL, 0);
	is_int(sample(unkept, host, mask, &b), -ESRCH, "degraded: an exit is seen");
	proc_handle_free(kept);
	proc_handle_free(unkept);
	fdbudget_get(&st);
	is_int(st.kept, 0, "freeing gives the fds back");
	is_int(st.degraded, 0, "and the degradation");
	fdbudget_set_limit(1024);
}

int main(void)
{
	host_sampler *host = NULL;

	signal(SIGPIPE, SIG_IGN);
	is_int(host_sampler_new("/proc", &host), 0, "host sampler opens /proc");
	if (!host)
		return done_testing();
	test_host(host);
	test_metrics(host);
	test_identity();
	test_budget(host);
	host_sampler_free(host);
	return done_testing();
}
