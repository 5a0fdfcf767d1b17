/* cmd_capture: `hound capture`, one bundle of one process now, without a config. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "cli/cmd.h"
#include "lib/log.h"
#include "lib/units.h"
#include "lib/util.h"

static void capture_usage(FILE *out)
{
	fprintf(out,
		"usage: hound capture -p PID [-k KIND[,KIND..]] [-d DURATION] [-o DIR] [--go-url URL]\n"
		"       hound capture --agent ADDR -p PID [-t TARGET] [-k KIND[,KIND..]] [-d DURATION]\n"
		"                     [-o DIR] [--token-file FILE] [--wait DURATION]\n\n"
		"Captures one bundle of process PID now and prints its directory.\n"
		"With --agent, the running agent at ADDR (its api.listen) captures it, as\n"
		"POST /v1/captures would, with its privileges and the target's settings; the\n"
		"bundle is then downloaded into DIR, each file checked against its sha256.\n\n"
		"  -p, --pid PID         the process\n"
		"  -k, --kind KINDS      comma-separated capture kinds (default: stacks,heap):\n"
		"                        stacks cpu heap locks fds core, and with --go-url also\n"
		"                        goroutines allocs block mutex threadcreate trace; on a JVM\n"
		"                        also heap_dump (stacks, heap and cpu then use the JVM's attach socket)\n"
		"  -d, --duration D      duration of cpu, native heap and trace captures\n"
		"                        (default 10s / 10s / 5s)\n"
		"  -o, --output DIR      where the bundle directory goes (default: .)\n"
		"      --malloc-sample S native heap: malloc tracking samples one allocation per S\n"
		"                        bytes allocated, on average (default 512KiB)\n"
		"      --malloc-budget P native heap: CPU malloc tracking may cost the target, in %% of\n"
		"                        one core (default 2%%); over it tracking is shortened or refused\n"
		"      --no-malloc       native heap: no malloc tracking (eBPF), page faults only\n"
		"      --go-url URL      the process serves net/http/pprof at URL\n"
		"      --log-level L     debug, info, warn (default) or error\n"
		"      --agent ADDR      ask the agent at ADDR (HOST:PORT or URL) to capture\n"
		"  -t, --target NAME     with --agent: the target (default: the one watching PID)\n"
		"      --token-file FILE with --agent: send this bearer token\n"
		"      --wait D          with --agent: how long to wait for the bundle (default 10m)\n"
		"  -h, --help            this text\n\n"
		"Exit status: 0 bundle written with at least one kind captured (kinds that\n"
		"failed are listed in its manifest errors), 1 no kind succeeded, the bundle\n"
		"could not be written or the process does not exist, 2 usage error.\n");
}

/* Parses "stacks,heap,cpu" into items; 0 or -EINVAL with the bad name in bad. */
static int parse_kinds(const char *s, int64_t duration_ms, struct capture_list *out, char *bad, size_t badlen)
{
	char *copy = xstrdup(s), *save = NULL;
	out->items = xcalloc(K_COUNT, sizeof(*out->items));
	out->n = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int k = capture_kind_by_name(tok);
		if (k < 0 || k == K_COMMAND) {
			snprintf(bad, badlen, "%s", tok);
			free(copy);
			return -EINVAL;
		}
		if (out->n == K_COUNT)
			break;
		out->items[out->n++] = (struct capture_item){.kind = (enum capture_kind)k,
							     .duration_ms = capture_kind_has_duration(k) ? duration_ms : 0};
	}
	free(copy);
	return out->n ? 0 : -EINVAL;
}

static int capture_agent(const char *agent, const char *target, const char *token_file,
			 const char *kinds, long pid, int64_t duration_ms, int64_t wait_ms,
			 const char *outdir)
{
	char *auth = NULL;
	if (token_file && !(auth = cmd_token_header(token_file)))
		return EXIT_USAGE;
	struct capture_remote r = {
	    .addr = agent,
	    .auth = auth,
	    .target = target,
	    .kinds = kinds,
	    .outdir = outdir,
	    .pid = pid,
	    .duration_ms = duration_ms,
	    .wait_ms = wait_ms,
	};
	int rc = capture_remote_run(&r);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	return rc;
}

int cmd_capture(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"kind", required_argument, NULL, 'k'},
		{"duration", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"go-url", required_argument, NULL, 'g'},
		{"log-level", required_argument, NULL, 'L'},
		{"agent", required_argument, NULL, 'A'},
		{"target", required_argument, NULL, 't'},
		{"token-file", required_argument, NULL, 'T'},
		{"wait", required_argument, NULL, 'W'},
		{"malloc-sample", required_argument, NULL, 'S'},
		{"malloc-budget", required_argument, NULL, 'B'},
		{"no-malloc", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *kinds = "stacks,heap", *outdir = ".", *go_url = NULL;
	const char *agent = NULL, *target = NULL, *token_file = NULL;
	bool kinds_set = false;
	int64_t duration_ms = 0, wait_ms = 10 * 60 * 1000;
	enum log_level lvl = LOG_WARN;
	struct malloc_conf mc = {0};
	double pct;
	long pid = 0;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:k:d:o:t:h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'p':
			pid = strtol(optarg, &end, 10);
			if (*end || pid <= 0) {
				fprintf(stderr, "hound capture: -p needs a process id, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'k':
			kinds = optarg;
			kinds_set = true;
			break;
		case 'A':
			agent = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 'T':
			token_file = optarg;
			break;
		case 'W':
			if (units_parse_duration(optarg, &wait_ms, NULL) < 0 || wait_ms <= 0) {
				fprintf(stderr, "hound capture: --wait needs a duration like 10m, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'd':
			if (units_parse_duration(optarg, &duration_ms, NULL) < 0 || duration_ms <= 0) {
				fprintf(stderr, "hound capture: -d needs a duration like 10s, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			outdir = optarg;
			break;
		case 'S':
			if (units_parse_size(optarg, &mc.sample_bytes, NULL) < 0 ||
			    mc.sample_bytes < 4096 || mc.sample_bytes > (1ull << 30)) {
				fprintf(stderr, "hound capture: --malloc-sample needs a size from 4KiB to 1GiB, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'B':
			if (units_parse_percent(optarg, &pct, NULL) < 0 || pct <= 0 || pct > 100) {
				fprintf(stderr, "hound capture: --malloc-budget needs a percentage above 0%% and at most 100%%, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			mc.budget = pct / 100.0;
			break;
		case 'N':
			mc.disabled = true;
			break;
		case 'g':
			go_url = optarg;
			break;
		case 'L':
			if (log_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr, "hound capture: bad --log-level '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			capture_usage(stdout);
			return EXIT_OK;
		default:
			capture_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (pid == 0 || optind < argc) {
		capture_usage(stderr);
		return EXIT_USAGE;
	}
	log_setup(LOG_FMT_LOGFMT, lvl);
	if (!agent && (target || token_file)) {
		fprintf(stderr, "hound capture: -t and --token-file go with --agent\n");
		return EXIT_USAGE;
	}
	util_private_umask();
	if (agent)
		return capture_agent(agent, target, token_file, kinds_set ? kinds : NULL, pid,
				     duration_ms, wait_ms, outdir);

	struct capture_job *job = capture_job_new("manual", outdir);
	char bad[64] = "";
	job->malloc = mc;
	if (parse_kinds(kinds, duration_ms, &job->items, bad, sizeof(bad)) < 0) {
		const char *near = NULL;
		size_t nd = 3; /* within two edits */
		for (int k = 0; k < K_COUNT; k++) {
			size_t d = util_edit_distance(bad, capture_kind_name((enum capture_kind)k));
			if (k != K_COMMAND && d < nd) {
				nd = d;
				near = capture_kind_name((enum capture_kind)k);
			}
		}
		if (near)
			fprintf(stderr, "hound capture: unknown capture kind '%s' (did you mean '%s'?)\n", bad, near);
		else
			fprintf(stderr, "hound capture: unknown capture kind '%s'\n", bad);
		capture_job_free(job);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < job->items.n; i++) {
		enum capture_kind k = job->items.items[i].kind;
		if (!go_url && !capture_kind_native(k) && !capture_kind_jvm_only(k)) {
			fprintf(stderr, "hound capture: kind '%s' needs --go-url\n",
				capture_kind_name(job->items.items[i].kind));
			capture_job_free(job);
			return EXIT_USAGE;
		}
	}
	if (go_url)
		job->go_url = xstrdup(go_url);
	int rc = capture_job_read_process(job, (pid_t)pid);
	if (rc < 0) {
		fprintf(stderr, "hound capture: pid %ld: open /proc/%ld/stat: %s\n", pid, pid, strerror(-rc));
		capture_job_free(job);
		return EXIT_RUNTIME;
	}
	job->trig.kind = TRIGGER_MANUAL;
	char *reason = xasprintf("manual capture of pid %ld requested with hound capture", pid);
	capture_job_set_trigger_text(job, NULL, NULL, reason);
	free(reason);

	/* SIGINT/SIGTERM end a long cpu/trace capture early but still write the bundle. */
	static volatile sig_atomic_t stop;
	struct sigaction sa = {0};
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	rc = capture_job_run(job, &stop);
	if (rc < 0) {
		fprintf(stderr, "hound capture: cannot write bundle under %s: %s\n", outdir, strerror(-rc));
		capture_job_free(job);
		return EXIT_RUNTIME;
	}
	printf("%s\n", job->final_dir);
	/* Some evidence is success (the errors are in the manifest); none at all is a failure. */
	bool none = job->nerrors > 0 && (size_t)job->nerrors >= job->items.n;
	if (job->nerrors)
		fprintf(stderr, "hound capture: %s%d capture kind(s) failed; see errors in %s/manifest.json\n",
			none ? "nothing captured: " : "", job->nerrors, job->final_dir);
	capture_job_free(job);
	return none ? EXIT_RUNTIME : EXIT_OK;
}
