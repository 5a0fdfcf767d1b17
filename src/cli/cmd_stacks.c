/* cmd_stacks: `hound stacks -p PID`, every thread's stack as text on stdout. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/native/stacks.h"
#include "cli/cmd.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hound stacks -p PID [-s] [-o FILE.pb.gz] [-v]\n"
		"\n"
		"Print every thread's stack of process PID on stdout, in the format of\n"
		"eu-stack -m: a \"TID N (name):\" header per thread, then one\n"
		"\"#N  0xADDRESS function - module\" line per frame (a frame without a\n"
		"name shows its file offset and build-id instead). Each thread is stopped only\n"
		"while its own stack is read (ptrace PTRACE_SEIZE/PTRACE_INTERRUPT), and\n"
		"names are resolved after, with the process running.\n"
		"\n"
		"  -p, --pid PID        the process\n"
		"  -s, --source         add source file:line below frames with debug info\n"
		"  -o, --pprof FILE     also write the stacks as a gzipped pprof profile\n"
		"  -v, --verbose        print timing (threads, per-thread stop) on stderr\n"
		"  -h, --help           this text\n"
		"\n"
		"Needs CAP_SYS_PTRACE, or the target's user. Exit status: 0 success,\n"
		"1 the capture failed (no such process, no privilege, already traced),\n"
		"2 usage error.\n");
}

int cmd_stacks(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pid", required_argument, NULL, 'p'}, {"pprof", required_argument, NULL, 'o'},
	    {"source", no_argument, NULL, 's'},	   {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
	};
	const char *pprof_path = NULL;
	struct stacks_stats st;
	char err[512] = "", *end;
	long pid = 0;
	int c, rc, verbose = 0;
	unsigned flags = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:o:svh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			errno = 0;
			pid = strtol(optarg, &end, 10);
			if (errno || *end || pid <= 0 || pid > 0x3fffffff) {
				fprintf(stderr, "hound stacks: invalid PID '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			pprof_path = optarg;
			break;
		case 's':
			flags |= STACKS_LINES;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (pid == 0 || optind < argc) {
		fprintf(stderr, "hound stacks: %s\n",
			pid == 0 ? "-p PID is required" : "unexpected argument");
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = stacks_dump((pid_t)pid, flags, stdout, pprof_path, &st, err, sizeof(err));
	fflush(stdout);
	if (verbose)
		fprintf(stderr,
			"hound stacks: pid=%ld threads=%zu unwound=%zu frames=%zu unwind_us=%lld "
			"symbolize_us=%lld median_stop_us=%.1f max_stop_us=%.1f\n",
			pid, st.nthreads, st.nok, st.nframes, (long long)(st.unwind_ns / 1000),
			(long long)(st.symbolize_ns / 1000), st.median_stop_ns / 1000.0,
			st.max_stop_ns / 1000.0);
	if (rc < 0) {
		fprintf(stderr, "hound stacks: %s\n", err[0] ? err : strerror(-rc));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}
