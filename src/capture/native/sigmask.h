/* sigmask: no-op signal-mask changes without a system call on unwinding threads. */
#ifndef HOUND_SIGMASK_H
#define HOUND_SIGMASK_H

/*
 * libunwind (as Debian builds it) blocks every signal around each lookup in
 * its global cache and restores the mask after: two rt_sigprocmask system
 * calls per frame unwound, whatever the caching policy asked for. On a
 * thread that already blocks every signal, both calls change nothing.
 *
 * sigmask_block_all blocks every signal on the calling thread and remembers
 * its mask; from then on, until sigmask_forget, sigprocmask() calls on this
 * thread that would leave the mask as it is (SIG_SETMASK to the same set,
 * SIG_BLOCK of blocked signals, queries) are answered from the remembered
 * mask without entering the kernel. Any other call goes to the kernel as
 * usual and ends the shortcut. Other threads are never affected. Returns 0 or
 * -errno (then nothing changed).
 */
int sigmask_block_all(void);
void sigmask_forget(void);

#endif
