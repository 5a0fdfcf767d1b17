/* util: allocation that aborts on exhaustion, clocks, and small file helpers. */
#ifndef HOUND_UTIL_H
#define HOUND_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x) ((void)(x))

/* Allocation: these never return NULL; on exhaustion they print and abort. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A growing string: p (owned, NUL-terminated once anything was added) and its length. */
struct util_buf {
	char *p;
	size_t len, cap;
};
/* Appends n bytes of s and keeps the text terminated. */
void util_buf_add(struct util_buf *b, const char *s, size_t n);

/* Returns a malloc'd formatted string owned by the caller. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Clocks in milliseconds / nanoseconds. */
int64_t util_mono_ms(void);
int64_t util_mono_ns(void);
int64_t util_wall_ms(void);
/* Formats wall-clock ms as RFC 3339 UTC with milliseconds ("2026-01-02T03:04:05.678Z"). */
void util_fmt_time(int64_t wall_ms, char *buf, size_t len);
/* Formats wall-clock ms as the compact bundle form "20260102T030405Z". */
void util_fmt_compact_time(int64_t wall_ms, char *buf, size_t len);

/* Files. All return 0 or -errno. */
/*
 * Bundles and baselines hold other processes' memory maps, stacks and heap
 * data: adds 027 to the umask so nothing hound creates is readable by other
 * users (directories 0750 at most, files 0640), whatever umask it inherited.
 */
void util_private_umask(void);
int util_mkdir_p(const char *path, mode_t mode);
int util_rm_rf(const char *path);
/* Reads a whole small file into a malloc'd NUL-terminated buffer (caller frees). */
int util_read_file(const char *path, char **out, size_t *len, size_t max);
/* Writes buf to path via path.tmp + fsync + rename. */
int util_write_file_atomic(const char *path, const void *buf, size_t len);
/* Bytes used by a directory tree (apparent size), or -errno. */
int64_t util_du(const char *path);
/* Like read(2)/write(2) but retries on EINTR and short counts. */
ssize_t util_read_full(int fd, void *buf, size_t n);
int util_write_full(int fd, const void *buf, size_t n);

/* Strings. */
bool util_str_has_prefix(const char *s, const char *prefix);
/* True for a module (path of n bytes) whose frames say where a thread waits, not which code
 * runs: libc, libpthread, the dynamic loader, the vDSO, libstdc++. */
bool util_system_module(const char *path, size_t n);
/* Levenshtein distance, for "did you mean" hints. */
size_t util_edit_distance(const char *a, const char *b);
/*
 * Formats a message into err (when err and errlen are set) and returns rc:
 * `return util_err(err, errlen, -EIO, "GET %s: %s", url, why);`
 */
int util_err(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* snprintf that always terminates and reports truncation as false. */
bool util_snprintf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A process whose main thread has exited (pthread_exit) keeps running on its
 * other threads, but its leader is a zombie: /proc/PID/maps is empty and
 * /proc/PID/exe unreadable. These return a live thread's view instead.
 * util_proc_live_tid: pid itself while its leader lives, else the first live
 * thread's TID, or -ESRCH when no thread lives.
 */
pid_t util_proc_live_tid(pid_t pid);
/* Writes "/proc/PID/FILE", or "/proc/PID/task/TID/FILE" for a live thread. */
void util_proc_live_path(pid_t pid, const char *file, char *buf, size_t len);

/*
 * Small reads for manifests, done once per process (never per sample): the
 * text of /proc/PID/NAME with NUL bytes and newlines as spaces, and the
 * target of /proc/PID/exe. malloc'd (caller frees), NULL when unreadable.
 */
char *util_read_proc_text(pid_t pid, const char *name);
char *util_read_proc_exe(pid_t pid);

#endif
