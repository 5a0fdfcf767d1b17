/* core_inject: the code hound places in a target to fork a snapshot child, and where it goes. */
#ifndef HOUND_CORE_INJECT_H
#define HOUND_CORE_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* Room the trampoline needs; a hole smaller than this is not used. */
#define CORE_TRAMP_MAX 640

/*
 * What the trampoline does, in the target thread that runs it:
 *   block every signal; clone(flags) a child; restore the thread's signal mask;
 *   restore every register from `resume` and jump to resume.rip.
 * and in the child (clone returned 0): every signal stays blocked (inherited),
 *   close_range(0, ~0) drops its copies of the service's fds, nanosleep(bound_s),
 *   exit_group(0). The child never reaches the service's code.
 * The parent path needs no help from hound: if hound dies at any instruction,
 * the thread finishes the sequence and returns to where it was.
 */
struct core_tramp_args {
	struct user_regs_struct resume; /* registers to return with (restart applied) */
	uint64_t sigmask;               /* the thread's mask before the snapshot */
	uint64_t clone_flags;           /* e.g. CLONE_PARENT | SIGCHLD */
	unsigned bound_s;               /* the child's lifetime when nobody holds it */
};

/*
 * Builds the trampoline for address `at` into buf (cap bytes). Pure. Returns
 * its length, or -ENOSPC when cap is too small.
 */
ssize_t core_tramp_build(uint8_t *buf, size_t cap, uint64_t at, const struct core_tramp_args *a);

/*
 * The registers a thread stopped with `r` resumes with when hound does not
 * hand them back through ptrace: a system call the stop interrupted is
 * restarted the way the kernel would (rip back over `syscall`, rax = number).
 */
struct user_regs_struct core_tramp_resume_regs(const struct user_regs_struct *r);

/* An executable hole: the bytes between the end of an executable segment and its page end. */
struct core_hole {
	uint64_t addr;
	size_t len;
	char file[256]; /* for messages */
};

/*
 * Finds the largest hole of at least `need` bytes in pid's executable file
 * mappings (never code: the padding after a PT_LOAD's last byte that no
 * instruction jumps to). Reads /proc/PID/maps and the mapped ELF files
 * through /proc/PID/map_files. Returns 0, or -ENOENT when there is none.
 */
int core_hole_find(pid_t pid, size_t need, struct core_hole *out);

#endif
