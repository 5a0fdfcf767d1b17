/* cmdcapture: the `command` capture kind (an argv run without a shell, time-limited, output into the bundle). */
#ifndef HOUND_CMDCAPTURE_H
#define HOUND_CMDCAPTURE_H

#include <stddef.h>

#include "capture/kind.h"
#include "config/config.h"

/* Output kept per command; the rest is read and dropped, and the file says so. */
#define CMDCAPTURE_MAX_OUTPUT (16u << 20)
/* Time between SIGTERM and SIGKILL to the command's process group. */
#define CMDCAPTURE_KILL_GRACE_MS 2000
/* Time limit when item->timeout_ms is 0. */
#define CMDCAPTURE_DEFAULT_TIMEOUT_MS 30000

/*
 * Capture kind `command`: runs item->argv with every `{pid}` replaced by
 * ctx->pid and `{dir}` by the bundle directory, via posix_spawnp (no shell),
 * in its own process group, stdin from /dev/null, stdout and stderr into
 * bundle file command-N.txt (N = first free, from 1). When item->timeout_ms
 * (default 30s) passes, or *ctx->stop is set, the group gets SIGTERM and,
 * CMDCAPTURE_KILL_GRACE_MS later, SIGKILL; processes the command left
 * behind in its group are killed when it exits. Output beyond
 * CMDCAPTURE_MAX_OUTPUT is dropped with a note at the end of the file.
 * Returns 0 when the command exited 0; otherwise -errno and a sentence in err
 * ("execvp(foo): No such file or directory", "exited with status 3",
 * "timed out after 30s"). The output file is kept in every case but exec
 * failure. Never blocks forever; requires that nobody else reaps the
 * agent's children (no waitpid(-1) and no SA_NOCLDWAIT).
 */
int command_capture(struct capture_ctx *ctx, const struct capture_item *item, char *err,
		    size_t errlen);

/*
 * Replaces every {pid} and {dir} in arg. Returns a malloc'd string owned by
 * the caller. Pure; exposed for tests.
 */
char *cmdcapture_subst(const char *arg, int pid, const char *dir);

#endif
