/* attach: the HotSpot dynamic attach protocol, spoken by hound itself (no JDK on the host). */
#ifndef HOUND_ATTACH_H
#define HOUND_ATTACH_H

#include <stddef.h>
#include <sys/types.h>

#include "capture/jvm/jvmproc.h"

/* How long the JVM gets to open its attach socket after SIGQUIT. */
#define JVM_ATTACH_OPEN_TIMEOUT_MS 10000

/*
 * Connects to the JVM's attach socket, /tmp/.java_pidNSPID in its mount
 * namespace (through /proc/PID/root). When there is none, or only a stale
 * one from an earlier process, it triggers the listener: .attach_pidNSPID in
 * the JVM's cwd (else its /tmp) and SIGQUIT, then waits for the socket. It
 * refuses, before any signal, a JVM that does not catch SIGQUIT (-Xrs, or
 * still starting: the signal would kill it) or runs with
 * -XX:+DisableAttachMechanism. The socket must belong to the JVM's uid;
 * the JVM accepts only its own euid/egid or root as peer, so hound needs
 * one of those (-EACCES with a sentence otherwise). Returns the connected
 * fd, or -errno with err filled; -ESRCH when the JVM exited meanwhile.
 */
int jvm_attach_connect(const struct jvm_proc *j, int open_timeout_ms, char *err, size_t errlen);

/*
 * Runs one diagnostic command ("Thread.print -l", "GC.class_histogram") and
 * streams the JVM's output to out_fd. *status is the JVM's result code (0
 * when the command ran). Returns 0 when the exchange completed, -ETIMEDOUT
 * after timeout_ms, or -errno with err filled.
 */
int jvm_attach_jcmd(const struct jvm_proc *j, const char *cmdline, int out_fd, int timeout_ms,
		    int *status, char *err, size_t errlen);

/*
 * The same into a caller buffer (NUL-terminated, truncated to cap), for short
 * replies such as JFR.check or the result of a heap dump.
 */
int jvm_attach_jcmd_text(const struct jvm_proc *j, const char *cmdline, char *buf, size_t cap,
			 int timeout_ms, int *status, char *err, size_t errlen);

#endif
