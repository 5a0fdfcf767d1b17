/* Unit tests for sigmask: the interposed sigprocmask stays exactly glibc's in effect. */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "capture/native/sigmask.h"
#include "tap.h"

/* The kernel's view of this thread's mask, asked without sigprocmask. */
static int blocked(int sig)
{
	sigset_t cur;
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	return sigismember(&cur, sig);
}

static void *other_thread(void *arg)
{
	(void)arg;
	return (void *)(long)blocked(SIGUSR2);
}

static void *unwinding_thread(void *arg)
{
	sigset_t full, old, usr1;
	(void)arg;

	is_int(sigmask_block_all(), 0, "block_all succeeds");
	ok(blocked(SIGUSR1) && blocked(SIGTERM), "every signal is blocked");
	/* libunwind's pattern: set the full mask, keep the old one, restore it. */
	sigfillset(&full);
	memset(&old, 0, sizeof(old));
	is_int(sigprocmask(SIG_SETMASK, &full, &old), 0, "no-op SIG_SETMASK succeeds");
	ok(sigismember(&old, SIGUSR1) && sigismember(&old, SIGTERM),
	   "the old mask it returns is the real one");
	is_int(sigprocmask(SIG_SETMASK, &old, NULL), 0, "restoring it succeeds");
	ok(blocked(SIGUSR1), "still every signal blocked");
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	is_int(sigprocmask(SIG_BLOCK, &usr1, NULL), 0, "SIG_BLOCK of a blocked signal succeeds");
	/* A real change reaches the kernel and ends the shortcut. */
	is_int(sigprocmask(SIG_UNBLOCK, &usr1, NULL), 0, "SIG_UNBLOCK succeeds");
	ok(!blocked(SIGUSR1), "SIGUSR1 really unblocked");
	is_int(sigprocmask(SIG_SETMASK, &full, &old), 0, "SIG_SETMASK after a change succeeds");
	ok(!sigismember(&old, SIGUSR1), "old mask shows SIGUSR1 unblocked (from the kernel)");
	ok(blocked(SIGUSR1), "SIGUSR1 blocked again");
	sigmask_forget();
	return NULL;
}

int main(void)
{
	pthread_t th;
	void *ret;
	sigset_t none, old;

	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	pthread_create(&th, NULL, unwinding_thread, NULL);
	pthread_join(th, NULL);
	ok(!blocked(SIGUSR1), "the main thread's mask is untouched");
	pthread_create(&th, NULL, other_thread, NULL);
	pthread_join(th, &ret);
	ok(ret == NULL, "a new thread does not inherit anything");
	/* Off an unwinding thread sigprocmask is glibc's, errors included. */
	is_int(sigprocmask(12345, &none, &old), -1, "a bad 'how' fails as in glibc");
	return done_testing();
}
