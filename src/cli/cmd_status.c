/* cmd_status: `hound status`, a terminal view of a running agent through its HTTP API. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_json.h"
#include "cli/cmd.h"
#include "config/config.h"
#include "lib/http_client.h"
#include "lib/util.h"

#define DEFAULT_ADDR "127.0.0.1:9155"
#define MAX_BODY     (16u * 1024 * 1024)

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hound status [-a ADDR] [-c FILE] [--token-file FILE]\n\n"
		"Shows what a running agent sees, through its HTTP API: targets, processes,\n"
		"the last value of each metric against its rules, cooldowns, and the recent\n"
		"bundles with their upload state.\n\n"
		"  -a, --addr ADDR        the agent's api.listen (HOST:PORT); default: api.listen\n"
		"                         of the config file if it has one, else %s\n"
		"  -c, --config FILE      config to read api.listen and api.token_file from\n"
		"                         (default %s); it must have an api: section\n"
		"      --token-file FILE  send this bearer token (default: the config's token)\n"
		"  -h, --help             this text\n\n"
		"Exit status: 0 when the agent answers and is healthy, 1 when it is unhealthy\n"
		"or unreachable, 2 on a usage error (or a config without api:).\n",
		DEFAULT_ADDR, config_default_path());
}

/* The URL base for a listen address; a wildcard listener is reached on loopback. */
char *cmd_base_url(const char *addr)
{
	if (addr[0] == ':')
		return xasprintf("http://127.0.0.1%s", addr);
	if (util_str_has_prefix(addr, "0.0.0.0:"))
		return xasprintf("http://127.0.0.1%s", addr + 7);
	if (util_str_has_prefix(addr, "[::]:"))
		return xasprintf("http://[::1]%s", addr + 4);
	if (util_str_has_prefix(addr, "http://"))
		return xstrdup(addr);
	return xasprintf("http://%s", addr);
}

/*
 * api.listen of the config, and its token as an Authorization header (*auth,
 * when the config has one). A default config that does not load gives NULL
 * quietly; a config named with -c that does not load or has no api: section
 * is an error: -1, with the reason printed.
 */
static int addr_from_config(const char *path, bool explicit_path, char **addr, char **auth)
{
	struct hound_config *c = NULL;
	*addr = NULL;
	if (config_load(path, &c, NULL) < 0) {
		if (explicit_path)
			fprintf(
			    stderr,
			    "hound status: cannot load %s (run 'hound check -c %s'); using %s\n",
			    path, path, DEFAULT_ADDR);
		return 0;
	}
	if (c->api.enabled && c->api.listen) {
		*addr = xstrdup(c->api.listen);
		if (c->api.token && !*auth)
			*auth = xasprintf("Authorization: Bearer %s", c->api.token);
	} else if (explicit_path) {
		fprintf(stderr,
			"hound status: %s has no api: section, so its agent serves no API to ask;\n"
			"add one (api: {listen: 127.0.0.1:9155}) or name the agent with -a ADDR\n",
			path);
		config_free(c);
		return -1;
	}
	config_free(c);
	return 0;
}

static int fetch(http_client *hc, const char *base, const char *path, const char *auth,
		 struct http_response *resp)
{
	char *url = xasprintf("%s%s", base, path);
	const char *headers[] = {auth, NULL};
	struct http_request req = {
	    .method = "GET",
	    .url = url,
	    .headers = auth ? headers : NULL,
	    .body_fd = -1,
	    .resp_fd = -1,
	    .max_body = MAX_BODY,
	    .connect_timeout_ms = 2000,
	    .timeout_ms = 10000,
	};
	memset(resp, 0, sizeof(*resp));
	int rc = http_request_do(hc, &req, resp);
	free(url);
	return rc;
}

char *cmd_token_header(const char *file)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = util_read_file(file, &buf, &len, 4096);
	if (rc < 0) {
		fprintf(stderr, "hound: cannot read token file %s: %s\n", file,
			strerror(-rc));
		return NULL;
	}
	/* trimmed as the agent trims it (config: read_token) */
	while (len && strchr(" \t\r\n", buf[len - 1]))
		buf[--len] = '\0';
	size_t skip = strspn(buf, " \t\r\n");
	char *h = xasprintf("Authorization: Bearer %s", buf + skip);
	explicit_bzero(buf, len);
	free(buf);
	return h;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"addr", required_argument, NULL, 'a'},
	    {"config", required_argument, NULL, 'c'},
	    {"token-file", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *addr_opt = NULL, *config = NULL, *token_file = NULL;
	char *addr = NULL, *base = NULL, *auth = NULL;
	http_client *hc = NULL;
	struct http_response h = {0}, t = {0}, c = {0};
	int opt, rc = EXIT_RUNTIME;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "a:c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			addr_opt = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hound status: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (token_file && !(auth = cmd_token_header(token_file)))
		goto out;
	if (addr_opt)
		addr = xstrdup(addr_opt);
	else if (addr_from_config(config ? config : config_default_path(), config != NULL, &addr,
				  &auth) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (!addr)
		addr = xstrdup(DEFAULT_ADDR);
	base = cmd_base_url(addr);
	if (http_client_new(&hc) < 0) {
		fprintf(stderr, "hound status: cannot create an HTTP client\n");
		goto out;
	}
	if (fetch(hc, base, "/healthz", auth, &h) < 0) {
		fprintf(stderr, "hound status: no agent answers at %s: %s\n", addr, h.err);
		goto out;
	}
	if (fetch(hc, base, "/v1/targets", auth, &t) == 0 && (t.status == 401 || t.status == 403)) {
		fprintf(stderr,
			"hound status: the agent at %s refused: %ld (it wants its bearer token: "
			"--token-file FILE, or -c with its config)\n",
			addr, (long)t.status);
		goto out;
	}
	if (t.status != 200 ||
	    fetch(hc, base, "/v1/captures", auth, &c) < 0 || c.status != 200) {
		fprintf(stderr,
			"hound status: %s did not answer /v1/targets and /v1/captures (%s)\n", addr,
			t.err[0]   ? t.err
			: c.err[0] ? c.err
				   : "unexpected status");
		goto out;
	}
	if (api_status_render(stdout, addr, h.status, h.body, t.body, c.body) < 0) {
		fprintf(stderr, "hound status: %s answered something that is not hound's API\n",
			addr);
		goto out;
	}
	rc = h.status == 200 ? EXIT_OK : EXIT_RUNTIME;
out:
	http_response_fini(&h);
	http_response_fini(&t);
	http_response_fini(&c);
	http_client_free(hc);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	free(base);
	free(addr);
	return rc;
}
