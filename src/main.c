/* main: the hound command line; dispatches to one cmd_* per subcommand. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "config/config.h"
#include "lib/http_client.h"
#include "lib/log.h"
#include "lib/util.h"

#ifndef HOUND_FEATURES
#define HOUND_FEATURES ""
#endif

int cmd_version(int argc, char **argv);

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{"run", cmd_run, "run the agent: sample targets, evaluate rules, capture, upload"},
	{"check", cmd_check, "validate a config file and print the effective config"},
	{"capture", cmd_capture, "capture a bundle of one process now, without a config"},
	{"stacks", cmd_stacks, "print every thread's stack of a process"},
	{"report", cmd_report, "print a human summary of a bundle"},
	{"status", cmd_status, "ask a running agent what it sees"},
	{"version", cmd_version, "print the version and compiled-in features"},
};

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("hound %s\nfeatures: %s\n", PACKAGE_VERSION, HOUND_FEATURES);
	return EXIT_OK;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: hound COMMAND [OPTIONS]\n\n"
		     "hound is a continuous auto-profiling watchdog: it samples processes,\n"
		     "evaluates rules and captures evidence (stacks, heap, CPU) when they fire.\n\n"
		     "commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-9s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\n'hound COMMAND --help' describes each command.\n"
		     "The default config is %s (HOUND_CONFIG overrides it).\n",
		config_default_path());
}

#define NSUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static const struct subcommand *find(const char *name)
{
	for (size_t i = 0; i < NSUBCOMMANDS; i++)
		if (!strcmp(name, subcommands[i].name))
			return &subcommands[i];
	return NULL;
}

/* "unknown command 'captur' (did you mean 'capture'?)", then the usage. */
static int unknown(const char *name)
{
	const char *best = NULL;
	size_t bestd = 3; /* suggest within two edits */
	for (size_t i = 0; i < NSUBCOMMANDS; i++) {
		size_t d = util_edit_distance(name, subcommands[i].name);
		if (d < bestd) {
			bestd = d;
			best = subcommands[i].name;
		}
	}
	if (best)
		fprintf(stderr, "hound: unknown command '%s' (did you mean '%s'?)\n", name, best);
	else
		fprintf(stderr, "hound: unknown command '%s'\n", name);
	usage(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help") && argc > 2) {
		/* `hound help run` is `hound run --help`. */
		const struct subcommand *sc = find(argv[2]);
		if (!sc)
			return unknown(argv[2]);
		char *hargv[] = {argv[2], "--help", NULL};
		return sc->fn(2, hargv);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") || !strcmp(argv[1], "-v"))
		return cmd_version(argc - 1, argv + 1);
	const struct subcommand *sc = find(argv[1]);
	if (!sc)
		return unknown(argv[1]);
	int rc = sc->fn(argc - 1, argv + 1);
	http_global_cleanup(); /* only if some client initialised libcurl */
	return rc;
}
