/* sigmask: no-op signal-mask changes without a system call on unwinding threads. */
#include "capture/native/sigmask.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

/* This thread's mask, valid while known is set (see sigmask.h). */
static __thread bool known;
static __thread sigset_t mask;

int sigmask_block_all(void)
{
	sigset_t all;
	int rc;

	sigfillset(&all);
	rc = pthread_sigmask(SIG_SETMASK, &all, NULL);
	if (rc == 0)
		rc = pthread_sigmask(SIG_SETMASK, NULL, &mask);
	known = rc == 0;
	return -rc;
}

void sigmask_forget(void)
{
	known = false;
}

/*
 * True when applying (how, set) leaves the mask unchanged. The kernel never
 * blocks SIGKILL and SIGSTOP, and glibc keeps its two internal signals
 * (32, 33) out of every mask it sets, so those bits are not compared.
 */
static bool no_change(int how, const sigset_t *set)
{
	if (!set)
		return true;
	if (how != SIG_SETMASK && how != SIG_BLOCK)
		return false;
	for (int sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33)
			continue;
		int want = sigismember(set, sig), have = sigismember(&mask, sig);
		if (how == SIG_SETMASK ? want != have : (want && !have))
			return false;
	}
	return true;
}

/*
 * Interposes glibc's sigprocmask for the whole process (libunwind calls it
 * through its PLT). Off an unwinding thread it is exactly glibc's: the same
 * implementation (pthread_sigmask), errno on failure.
 */
int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int rc;

	if (known && no_change(how, set)) {
		if (old)
			*old = mask;
		return 0;
	}
	known = false;
	rc = pthread_sigmask(how, set, old);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}
