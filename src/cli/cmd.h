/* cmd: the subcommands of the hound CLI; each returns the process exit status. */
#ifndef HOUND_CMD_H
#define HOUND_CMD_H

#include <stdint.h>

/* Exit statuses (SPEC section 1). */
#define EXIT_OK 0
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

/* argv[0] is the subcommand name; each handles --help itself. */
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_stacks(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* Helpers the commands that talk to a running agent share (cmd_status.c). */
/* The URL base for a listen address or URL; a wildcard listener is reached on loopback (malloc'd). */
char *cmd_base_url(const char *addr);
/* "Authorization: Bearer TOKEN" from a token file, trimmed (malloc'd), or NULL with the reason printed. */
char *cmd_token_header(const char *file);

/*
 * `hound capture --agent ADDR`: asks the agent at addr to capture (POST
 * /v1/captures), waits for the bundle, downloads its files into outdir/ID/
 * (checking each against the manifest's sha256) and prints that directory.
 * kinds is the -k list, duration_ms 0 for the agent's defaults, target NULL
 * to find the target that watches pid. Returns an exit status.
 */
struct capture_remote {
	const char *addr, *auth, *target, *kinds, *outdir;
	long pid;
	int64_t duration_ms;
	int64_t wait_ms; /* give up waiting for the bundle after this long */
};
int capture_remote_run(const struct capture_remote *r);

#endif
