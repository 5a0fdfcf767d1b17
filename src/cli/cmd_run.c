/* cmd_run: `hound run`, the daemon. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/privs.h"
#include "agent/proc.h"
#include "api/api.h"
#include "cli/cmd.h"
#include "config/config.h"
#include "lib/fdbudget.h"
#include "lib/log.h"
#include "report/report_html.h"
#include "lib/util.h"

static void run_usage(FILE *out)
{
	fprintf(out, "usage: hound run [-c FILE] [--log-format=logfmt|json] [--log-level=LEVEL]\n\n"
		     "Runs the agent: discovers the configured targets' processes, samples them every\n"
		     "interval, evaluates the rules, and writes a bundle when one fires.\n\n"
		     "  -c, --config FILE     config file (default: $HOUND_CONFIG or %s)\n"
		     "      --log-format F    logfmt (default) or json, on stderr\n"
		     "      --log-level L     debug, info (default), warn or error\n"
		     "  -h, --help            this text\n\n"
		     "Signals: SIGHUP reloads the config (an invalid file is rejected and the running\n"
		     "config kept); SIGTERM/SIGINT finish in-flight captures (bounded) and exit.\n",
		config_default_path());
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"log-format", required_argument, NULL, 'F'},
		{"log-level", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = config_default_path();
	enum log_format fmt = LOG_FMT_LOGFMT;
	enum log_level lvl = LOG_INFO;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'F':
			if (log_parse_format(optarg, &fmt) < 0) {
				fprintf(stderr, "hound run: --log-format must be logfmt or json, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'L':
			if (log_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr, "hound run: --log-level must be debug, info, warn or error, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			run_usage(stdout);
			return EXIT_OK;
		default:
			run_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hound run: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	log_setup(fmt, lvl);

	struct hound_config *cfg = NULL;
	struct config_errors errs = {0};
	if (config_load(path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		if (errs.n == 0)
			fprintf(stderr, "%s: cannot load config\n", path);
		config_errors_fini(&errs);
		return EXIT_USAGE;
	}
	config_errors_fini(&errs);

	util_private_umask();
	/*
	 * Each watched process keeps a few /proc files open: raise the fd limit
	 * and budget the kept fds, leaving a reserve for the API, captures and
	 * uploads.
	 */
	long nofile = fdbudget_init();
	struct fdbudget_stats fb;
	fdbudget_get(&fb);
	if (nofile < 0)
		log_warn("cannot raise the open file limit", "call=setrlimit error=%s limit=%ld",
			 strerror((int)-nofile), fb.limit);
	log_debug("open file budget", "limit=%ld kept_max=%ld reserve=%ld", fb.limit, fb.budget,
		  fb.reserve);

	/* Before any thread starts: capabilities are per thread. */
	char perr[512];
	if (privs_apply(cfg, perr, sizeof(perr)) < 0) {
		log_error("cannot drop privileges", "error=%s", perr);
		config_free(cfg);
		return EXIT_RUNTIME;
	}

	agent_block_signals();
	agent *a = NULL;
	if (agent_new(cfg, &a) < 0) {
		config_free(cfg);
		return EXIT_RUNTIME;
	}
	agent_add_service(a, api_agent_service());
	api_set_report_renderer(report_html_write);
	int rc = agent_run(a);
	agent_free(a);
	return rc;
}
