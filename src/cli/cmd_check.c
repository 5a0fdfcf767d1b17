/* cmd_check: `hound check`, validate a config file and print the effective config. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/privs.h"
#include "cli/cmd.h"
#include "config/config.h"

static void check_usage(FILE *out)
{
	fprintf(out,
		"usage: hound check [-c FILE] [--no-files]\n\n"
		"Loads and validates the configuration. On success prints the effective\n"
		"configuration (every default filled in, secrets redacted) as YAML on\n"
		"stdout and exits 0; otherwise prints every problem found, one per line\n"
		"as FILE:LINE:COLUMN: KEY: message, on stderr and exits 2.\n\n"
		"options:\n"
		"  -c, --config FILE  the config file (default: %s;\n"
		"                     HOUND_CONFIG overrides the default)\n"
		"      --no-files     do not read the files the config names (api.token_file,\n"
		"                     upload.s3.ca_file): check a config away from the machine\n"
		"                     or pod it is for, where those files do not exist\n"
		"  -h, --help         this help\n",
		config_default_path());
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"no-files", no_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	unsigned flags = 0;
	struct config_errors errs = {0};
	struct hound_config *c = NULL;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'F':
			flags |= CONFIG_NO_FILES;
			break;
		case 'h':
			check_usage(stdout);
			return EXIT_OK;
		default:
			if (optopt == 'c')
				fprintf(stderr, "hound check: -c needs a FILE\n");
			else
				fprintf(stderr, "hound check: unknown option '%s'\n",
					argv[optind - 1]);
			check_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hound check: unexpected argument '%s'\n", argv[optind]);
		check_usage(stderr);
		return EXIT_USAGE;
	}
	if (!path)
		path = config_default_path();
	if (config_load_flags(path, flags, &c, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		config_errors_fini(&errs);
		return EXIT_USAGE;
	}
	config_print(c, stdout);
	privs_report(c, stderr);
	config_free(c);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
