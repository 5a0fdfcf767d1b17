/* api_bundle: one bundle over the API: its manifest and state, its files, its HTML report. */
#include "api/api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "bundle/bundle_read.h"
#include "lib/log.h"
#include "lib/util.h"

static _Atomic(api_report_fn) renderer;

void api_set_report_renderer(api_report_fn fn)
{
	atomic_store(&renderer, fn);
}

static void manifest(const char *id, const struct agent_bundle_loc *loc, struct api_reply *r)
{
	char *text = NULL;
	size_t len = 0;
	int rc = loc->complete ? bundle_manifest_text(loc->dir, &text, &len) : 0;
	if (rc < 0) {
		api_reply_error(r, 500, "bundle %s: cannot read its manifest: %s", id,
				rc == -EINVAL ? "not JSON" : strerror(-rc));
		return;
	}
	struct json_writer w;
	json_init(&w, false);
	json_obj_begin(&w);
	json_kv_str(&w, "id", id);
	json_kv_str(&w, "target", loc->target);
	json_kv_str(&w, "state", loc->state);
	json_kv_bool(&w, "complete", loc->complete);
	json_kv_str(&w, "dir", loc->dir);
	json_key(&w, "manifest");
	if (text)
		json_raw(&w, text); /* checked to be a JSON object by bundle_manifest_text */
	else
		json_null(&w);
	json_obj_end(&w);
	free(text);
	api_reply_json(r, 200, &w);
}

static const char *content_type(const char *name)
{
	size_t n = strlen(name);
	if (n > 5 && !strcmp(name + n - 5, ".json"))
		return "application/json";
	if ((n > 4 && !strcmp(name + n - 4, ".txt")) || (n > 7 && !strcmp(name + n - 7, ".folded")))
		return "text/plain; charset=utf-8";
	return "application/octet-stream";
}

/* Only names the manifest lists, opened beside it without following links: never a path. */
static void file(const char *id, const struct agent_bundle_loc *loc, const char *name,
		 struct api_reply *r)
{
	char *text = NULL;
	size_t len = 0;
	if (!bundle_name_ok(name)) {
		api_reply_error(r, 400, "a file name is a plain name from the bundle's manifest");
		return;
	}
	int rc = bundle_manifest_text(loc->dir, &text, &len);
	if (rc < 0) {
		api_reply_error(r, 500, "bundle %s: cannot read its manifest: %s", id,
				rc == -EINVAL ? "not JSON" : strerror(-rc));
		return;
	}
	bool listed = bundle_manifest_lists(text, len, name);
	free(text);
	if (!listed) {
		api_reply_error(r, 404, "bundle %s has no file %s", id, name);
		return;
	}
	int dfd = open(loc->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = dfd < 0 ? -1 : openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	int err = errno;
	struct stat st;
	if (dfd >= 0)
		close(dfd);
	if (fd < 0) {
		api_reply_error(r, err == ENOENT ? 404 : 500, "bundle %s: %s: %s", id, name,
				strerror(err));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		api_reply_error(r, 404, "bundle %s: %s is not a regular file", id, name);
		return;
	}
	r->status = 200;
	r->has_fd = true;
	r->fd = fd;
	r->len = (size_t)st.st_size;
	r->content_type = content_type(name);
	r->filename = name;
}

static void report(const char *id, const struct agent_bundle_loc *loc, struct api_reply *r)
{
	api_report_fn fn = atomic_load(&renderer);
	char err[512], *page = NULL;
	size_t len = 0;
	if (!fn) {
		api_reply_error(r, 404, "this agent does not render reports");
		return;
	}
	FILE *out = open_memstream(&page, &len);
	if (!out) {
		api_reply_error(r, 500, "open_memstream: %s", strerror(errno));
		return;
	}
	int rc = fn(loc->dir, out, err, sizeof(err));
	fclose(out);
	if (rc < 0) {
		free(page);
		api_reply_error(r, 500, "bundle %s: %s", id, err);
		return;
	}
	r->status = 200;
	r->body = page;
	r->len = len;
	r->content_type = "text/html; charset=utf-8";
}

void api_get_capture_item(struct api_server *s, const char *rest, struct api_reply *r)
{
	char id[256];
	const char *slash = strchr(rest, '/'), *sub = slash ? slash + 1 : "";
	size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
	struct agent_bundle_loc loc;

	if (idlen == 0 || idlen >= sizeof(id)) {
		api_reply_error(r, 400, "not a bundle ID");
		return;
	}
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	int rc = agent_find_bundle(s->a, id, &loc);
	if (rc == -EINVAL) {
		api_reply_error(
		    r, 400,
		    "not a bundle ID (a plain name such as 20260101T031500Z-4242-rss-spike)");
		return;
	}
	if (rc < 0) {
		api_reply_error(r, 404, "no bundle %s on this agent", id);
		return;
	}
	bool want_file = util_str_has_prefix(sub, "files/"),
	     want_report = !strcmp(sub, "report.html");
	if (!*sub) {
		manifest(id, &loc, r);
		return;
	}
	if (!want_file && !want_report) {
		api_reply_error(r, 404,
				"no such endpoint (try /v1/captures/{id}, "
				"/v1/captures/{id}/files/{name}, /v1/captures/{id}/report.html)");
		return;
	}
	if (!loc.complete) {
		api_reply_error(r, 409, "bundle %s is still being captured", id);
		r->retry_after_s = 2;
		return;
	}
	if (want_file)
		file(id, &loc, sub + strlen("files/"), r);
	else
		report(id, &loc, r);
	log_debug("API bundle read", "id=%s what=%s status=%d", id, want_file ? "file" : "report",
		  r->status);
}
