/* mtrack_bpf: loads the malloc-tracking BPF object and attaches it to a process's allocator (libbpf). */
#ifndef HOUND_MTRACK_BPF_H
#define HOUND_MTRACK_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capture/native/bpf/mtrack_event.h"

typedef struct mtrack_bpf mtrack_bpf;

/* The per-CPU counters, summed. */
struct mtrack_bpf_counts {
	uint64_t alloc_calls, free_calls, sampled, ring_full, live_full;
};

/*
 * Loads the BPF object for process pid (its tgid as the host sees it) with
 * the sampling countdown's exponential draws (MTRACK_DRAWS values, bytes).
 * Nothing is attached yet and nothing is sampled until
 * mtrack_bpf_set_tracking. Returns 0, -ENOSYS when hound was built without
 * eBPF, or -errno (EPERM: no CAP_BPF/CAP_PERFMON, lockdown) with a sentence
 * in err. Free with mtrack_bpf_free (NULL ok): every uprobe goes with it,
 * and with hound's exit however it ends (they are perf_event fds).
 */
int mtrack_bpf_open(pid_t pid, const uint64_t *draws, mtrack_bpf **out, char *err,
		    size_t errlen);
void mtrack_bpf_free(mtrack_bpf *m);

/* The allocator functions watched, by index (NULL past the last). */
const char *mtrack_bpf_func(size_t i);

/*
 * Attaches the probes of allocator function func (a name mtrack_bpf_func
 * gives) at file offset off of the ELF file at path (as hound can open it,
 * e.g. /proc/PID/root/usr/lib/...). Returns 0, or -errno with a sentence in
 * err.
 */
int mtrack_bpf_attach(mtrack_bpf *m, const char *path, const char *func, uint64_t off,
		      char *err, size_t errlen);

/* Counting only (false, the cost guard's measure) or sampling (true). */
void mtrack_bpf_set_tracking(mtrack_bpf *m, bool on);
void mtrack_bpf_counts(mtrack_bpf *m, struct mtrack_bpf_counts *out);

/* Called for each sampled call; the event is valid during the call only. */
typedef void (*mtrack_event_fn)(const struct mtrack_event *e, void *arg);
/* Waits up to timeout_ms for events and hands them to fn. Events consumed, or -errno. */
int mtrack_bpf_poll(mtrack_bpf *m, int timeout_ms, mtrack_event_fn fn, void *arg);

/* Called for each live sampled allocation: its address, size and sample id. */
typedef void (*mtrack_live_fn)(uint64_t addr, uint64_t size, uint64_t id, void *arg);
/* Walks the live table. Entries walked, or -errno. */
int mtrack_bpf_live(mtrack_bpf *m, mtrack_live_fn fn, void *arg);

#endif
