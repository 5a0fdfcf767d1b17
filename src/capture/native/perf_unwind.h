/* perf_unwind: DWARF unwinding of perf_event user-stack copies with libunwind (as perf --call-graph
 * dwarf). */
#ifndef HOUND_PERF_UNWIND_H
#define HOUND_PERF_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The x86_64 user registers sampled with PERF_SAMPLE_REGS_USER: AX..IP
 * (PERF_REG_X86_AX = 0 .. PERF_REG_X86_IP = 8) and R8..R15 (16..23).
 */
#define PERF_UNWIND_REGS_MASK ((((uint64_t)1 << 9) - 1) | (((uint64_t)0xff) << 16))

typedef struct perf_unwinder perf_unwinder;

/*
 * An unwinder for one process: its mappings (from /proc/PID/maps) and the ELF
 * files behind them, opened through /proc/PID/root and mapped read-only, with
 * their .eh_frame_hdr tables; libunwind's global cache lives as long as it.
 * Returns 0, or -errno with a sentence in err. Free with perf_unwinder_free
 * (NULL ok). Not thread-safe: one unwinder per sampling thread.
 */
int perf_unwinder_new(pid_t pid, perf_unwinder **out, char *err, size_t errlen);
void perf_unwinder_free(perf_unwinder *u);

/* Re-reads /proc/PID/maps (after a dlopen), at most every 100 ms. 0 or -errno. */
int perf_unwinder_reload(perf_unwinder *u);

/*
 * Unwinds one sample: regs holds the sampled registers in ascending bit
 * order of PERF_UNWIND_REGS_MASK, stack the copy of the user stack starting at
 * the sampled SP. Writes up to max program counters (leaf first; all but the
 * first are return addresses) into ips. *complete is set when libunwind reached
 * the outermost frame (the CFI of _start or clone3), not a gap. Allocates
 * nothing once warm. Returns the number of frames (>= 1 when regs are valid).
 */
size_t perf_unwind_sample(perf_unwinder *u, const uint64_t *regs, size_t nregs,
			  const uint8_t *stack, size_t stack_len, uint64_t *ips, size_t max,
			  bool *complete);

/* True when addr lies in a file-backed executable mapping of the process. */
bool perf_unwinder_is_code(perf_unwinder *u, uint64_t addr);

#endif
