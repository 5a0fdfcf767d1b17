/* cmd: the subcommands of the hound CLI; each returns the process exit status. */
#ifndef HOUND_CMD_H
#define HOUND_CMD_H

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

#endif
