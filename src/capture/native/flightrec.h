/* flightrec: an always-on low-rate CPU profile of one process, kept in a bounded ring. */
#ifndef HOUND_FLIGHTREC_H
#define HOUND_FLIGHTREC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct flightrec flightrec;

/* Busy threads' worth of samples the ring is sized for (see flightrec_new). */
#define FLIGHTREC_THREADS 16
/* Bytes budgeted per sample in the ring (a 26-frame chain); deeper ones take more. */
#define FLIGHTREC_SAMPLE_BYTES 256

/*
 * Starts sampling pid at rate_hz per thread (perf_event, FP or DWARF chains
 * as perf_capture does) on a thread of its own, keeping the samples of the
 * last keep_ms in a ring of ceil(rate_hz * keep_ms / 1000) * FLIGHTREC_THREADS
 * * FLIGHTREC_SAMPLE_BYTES bytes (19 Hz, 30 s: 2.2 MiB) allocated here, plus
 * the kernel's per-thread ring buffers (9 pages per thread). When more threads
 * are busy, the oldest samples are dropped first, so the window shrinks but
 * memory does not grow. There is no ptrace fallback: always-on stopping of
 * threads is too intrusive. Returns 0, or -errno when perf_event_open is
 * refused (-EACCES, -EPERM, -ENOSYS) or the process is gone (-ESRCH).
 * When the process exits, the thread ends; the ring stays readable.
 */
int flightrec_new(pid_t pid, double rate_hz, int64_t keep_ms, flightrec **out);
/* Stops the thread and frees everything (NULL ok). */
/*
 * Flight recorders are reference-counted: flightrec_new returns one
 * reference, flightrec_ref adds one (a capture job that will write from it
 * after the process state is gone), flightrec_free drops one and stops and
 * frees the recorder with the last. NULL is fine.
 */
flightrec *flightrec_ref(flightrec *f);
void flightrec_free(flightrec *f);
/* Bytes in use: the sample ring plus the kernel ring buffers mapped now. */
size_t flightrec_memory(const flightrec *f);
/* Samples recorded since the start (including those evicted). */
uint64_t flightrec_samples(const flightrec *f);

/*
 * Writes dir/cpu.before.pb.gz: the samples taken in the keep_ms before
 * until_mono_ms (util_mono_ms clock), symbolized now (the process must still
 * be alive for names). Thread-safe against the sampling thread. 0 or -errno
 * with a sentence in err.
 */
int flightrec_write(flightrec *f, const char *dir, int64_t until_mono_ms, char *err, size_t errlen);

#endif
