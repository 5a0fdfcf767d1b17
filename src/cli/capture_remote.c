/* capture_remote: `hound capture --agent ADDR`: a capture by a running agent, fetched over its API.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle/bundle_read.h"
#include "cli/cmd.h"
#include "lib/http_client.h"
#include "lib/metric.h"
#include "lib/sha256.h"
#include "lib/util.h"

#define JSON_MAX (8u << 20)
#define POLL_MS	 300

struct remote {
	const struct capture_remote *o;
	http_client *hc;
	char *base;
};

/* One request; a JSON answer is parsed into *json (caller decrefs). 0, or -1 with the reason
 * printed. */
static int call(struct remote *r, const char *method, const char *path, const char *body,
		long *status, json_t **json)
{
	char *url = xasprintf("%s%s", r->base, path);
	const char *headers[] = {"Content-Type: application/json", r->o->auth, NULL};
	struct http_request req = {
	    .method = method,
	    .url = url,
	    .headers = headers,
	    .body_fd = -1,
	    .body_buf = body,
	    .body_buf_len = body ? strlen(body) : 0,
	    .resp_fd = -1,
	    .max_body = JSON_MAX,
	    .connect_timeout_ms = 3000,
	    .timeout_ms = 30000,
	};
	struct http_response resp = {0};
	int rc = http_request_do(r->hc, &req, &resp);
	free(url);
	if (rc < 0) {
		fprintf(stderr, "hound capture: no agent answers at %s: %s\n", r->o->addr,
			resp.err);
		http_response_fini(&resp);
		return -1;
	}
	*status = resp.status;
	*json = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
	http_response_fini(&resp);
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* The target whose processes include pid, from GET /v1/targets. */
static char *target_of(struct remote *r, long pid)
{
	long st = 0;
	json_t *j = NULL, *t, *p;
	size_t i, k;
	char *found = NULL;
	if (call(r, "GET", "/v1/targets", NULL, &st, &j) < 0)
		return NULL;
	if (st == 401 || st == 403) {
		/* /v1/targets is behind the token too: say so, not "no target" */
		fprintf(stderr, "hound capture: the agent at %s refused: %ld %s\n", r->o->addr, st,
			j ? jstr(j, "error") : "");
		json_decref(j);
		return NULL;
	}
	json_array_foreach(json_object_get(j, "targets"), i, t)
	{
		json_array_foreach(json_object_get(t, "processes"), k, p)
		{
			if (!found && json_integer_value(json_object_get(p, "pid")) == pid)
				found = xstrdup(jstr(t, "name"));
		}
	}
	if (!found)
		fprintf(stderr,
			"hound capture: no target of the agent at %s watches pid %ld (%s); name "
			"one with -t\n",
			r->o->addr, pid, st == 200 ? "see hound status" : "GET /v1/targets failed");
	json_decref(j);
	return found;
}

/* {"target":..,"pid":..,"capture":["stacks",{"cpu":"10000ms"}],"reason":..}, or NULL for a bad -k.
 */
static char *request_body(const struct capture_remote *o, const char *target)
{
	json_t *kinds = json_array();
	char *copy = xstrdup(o->kinds ? o->kinds : ""), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int k = capture_kind_by_name(tok);
		if (k >= 0 && o->duration_ms > 0 && capture_kind_has_duration(k)) {
			char d[32];
			snprintf(d, sizeof(d), "%lldms", (long long)o->duration_ms);
			json_array_append_new(kinds, json_pack("{ss}", tok, d));
		} else {
			json_array_append_new(kinds,
					      json_string(tok)); /* the agent judges the name */
		}
	}
	free(copy);
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	char *reason = xasprintf("requested with hound capture --agent from %s", host);
	json_t *b =
	    json_pack("{ss sI ss}", "target", target, "pid", (json_int_t)o->pid, "reason", reason);
	if (json_array_size(kinds))
		json_object_set(b, "capture", kinds);
	json_decref(kinds);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	free(reason);
	return s;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits until the bundle is complete; its manifest in *manifest. 0 or -1 (printed). */
static int wait_done(struct remote *r, const char *id, json_t **manifest)
{
	char path[400];
	int64_t end = util_mono_ms() + r->o->wait_ms;
	snprintf(path, sizeof(path), "/v1/captures/%s", id);
	for (;;) {
		long st = 0;
		json_t *j = NULL;
		if (call(r, "GET", path, NULL, &st, &j) < 0)
			return -1;
		if (st == 200 && json_is_true(json_object_get(j, "complete"))) {
			*manifest = json_incref(json_object_get(j, "manifest"));
			json_decref(j);
			return json_is_object(*manifest) ? 0 : -1;
		}
		if (st != 200) {
			fprintf(stderr, "hound capture: GET %s: %ld %s\n", path, st,
				jstr(j, "error"));
			json_decref(j);
			return -1;
		}
		json_decref(j);
		if (util_mono_ms() > end) {
			fprintf(stderr,
				"hound capture: bundle %s is not complete after %llds; it stays on "
				"the agent\n",
				id, (long long)(r->o->wait_ms / 1000));
			return -1;
		}
		sleep_ms(POLL_MS);
	}
}

/* Downloads one file into dir and checks its digest. 0 or -1 (printed). */
static int download(struct remote *r, const char *id, const char *dir, const char *name,
		    const char *sha)
{
	char path[PATH_MAX], hex[65];
	if (!bundle_name_ok(name) || !util_snprintf(path, sizeof(path), "%s/%s", dir, name)) {
		fprintf(stderr,
			"hound capture: bundle %s lists a file name that is not a plain name\n",
			id);
		return -1;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "hound capture: create %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *url = xasprintf("%s/v1/captures/%s/files/%s", r->base, id, name);
	const char *headers[] = {r->o->auth, NULL};
	struct http_request req = {
	    .method = "GET",
	    .url = url,
	    .headers = headers,
	    .body_fd = -1,
	    .resp_fd = fd,
	    .max_body = UINT64_MAX,
	    .connect_timeout_ms = 3000,
	    .timeout_ms = 3600 * 1000,
	};
	struct http_response resp = {0};
	int rc = http_request_do(r->hc, &req, &resp);
	free(url);
	if (rc < 0 || resp.status != 200) {
		fprintf(stderr, "hound capture: download %s of bundle %s: %s\n", name, id,
			rc < 0 ? resp.err : "unexpected status");
		rc = -1;
	} else if (sha && *sha &&
		   (sha256_file(fd, 0, UINT64_MAX, hex, NULL) < 0 || strcmp(hex, sha))) {
		fprintf(
		    stderr,
		    "hound capture: %s of bundle %s does not match its sha256 in the manifest\n",
		    name, id);
		rc = -1;
	}
	http_response_fini(&resp);
	close(fd);
	return rc < 0 ? -1 : 0;
}

/* Files first, manifest.json last, into outdir/ID.tmp renamed to outdir/ID: as a local capture. */
static int fetch_bundle(struct remote *r, const char *id, json_t *manifest, char *final,
			size_t flen)
{
	char tmp[PATH_MAX];
	size_t i;
	json_t *f;
	if (!util_snprintf(final, flen, "%s/%s", r->o->outdir, id) ||
	    !util_snprintf(tmp, sizeof(tmp), "%s.tmp", final)) {
		fprintf(stderr, "hound capture: %s: path too long\n", r->o->outdir);
		return -1;
	}
	if (util_mkdir_p(tmp, 0750) < 0) {
		fprintf(stderr, "hound capture: mkdir %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	json_array_foreach(json_object_get(manifest, "files"), i, f)
	{
		if (download(r, id, tmp, jstr(f, "name"), jstr(f, "sha256")) < 0)
			goto fail;
	}
	if (download(r, id, tmp, "manifest.json", NULL) < 0)
		goto fail;
	if (rename(tmp, final) < 0) {
		fprintf(stderr, "hound capture: rename %s: %s\n", final, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	util_rm_rf(tmp);
	return -1;
}

int capture_remote_run(const struct capture_remote *o)
{
	struct remote r = {.o = o, .base = cmd_base_url(o->addr)};
	char *target = NULL, *body = NULL, final[PATH_MAX];
	json_t *ans = NULL, *manifest = NULL;
	long st = 0;
	int rc = EXIT_RUNTIME;

	if (http_client_new(&r.hc) < 0) {
		fprintf(stderr, "hound capture: cannot create an HTTP client\n");
		goto out;
	}
	target = o->target ? xstrdup(o->target) : target_of(&r, o->pid);
	if (!target)
		goto out;
	body = request_body(o, target);
	if (call(&r, "POST", "/v1/captures", body, &st, &ans) < 0)
		goto out;
	if (st != 202) {
		fprintf(stderr, "hound capture: the agent at %s refused: %ld %s\n", o->addr, st,
			ans ? jstr(ans, "error") : "");
		rc = st == 400 ? EXIT_USAGE : EXIT_RUNTIME;
		goto out;
	}
	const char *id = jstr(ans, "id");
	if (!bundle_name_ok(id)) {
		fprintf(stderr, "hound capture: the agent at %s answered no bundle ID\n", o->addr);
		goto out;
	}
	fprintf(stderr, "hound capture: the agent at %s is capturing bundle %s\n", o->addr, id);
	if (wait_done(&r, id, &manifest) < 0 ||
	    fetch_bundle(&r, id, manifest, final, sizeof(final)) < 0)
		goto out;
	printf("%s\n", final);
	/* as a local capture: some evidence is success, none at all a failure */
	rc = json_array_size(json_object_get(manifest, "files")) ? EXIT_OK : EXIT_RUNTIME;
	if (json_object_size(json_object_get(manifest, "errors")))
		fprintf(stderr,
			"hound capture: %scapture kind(s) failed; see errors in %s/manifest.json\n",
			rc ? "nothing captured: " : "", final);
out:
	json_decref(manifest);
	json_decref(ans);
	free(body);
	free(target);
	free(r.base);
	http_client_free(r.hc);
	return rc;
}
