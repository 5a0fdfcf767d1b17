/* bundle: one capture's directory (ID.tmp -> ID) and its manifest.json. */
#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/sha256.h"
#include "lib/util.h"

struct bundle_file {
	char *name, *kind, *format;
	uint64_t bytes;
	char sha256[65];
};

struct bundle {
	pthread_mutex_t lock;
	char id[NAME_MAX + 1];
	char parent[PATH_MAX];
	char tmpdir[PATH_MAX];
	int64_t started_wall_ms;
	struct bundle_file *files;
	size_t nfiles;
	struct label *errors; /* key = kind, value = message(s) */
	size_t nerrors;
	struct label *notes;
	size_t nnotes;
};

/* Rule names are [a-z0-9_-]; anything else is replaced so the ID stays a safe path. */
static void safe_name(const char *in, char *out, size_t len)
{
	size_t i = 0;
	for (; in[i] && i + 1 < len; i++) {
		char c = in[i];
		bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			   c == '-' || c == '_' || c == '.';
		out[i] = okc ? c : '_';
	}
	out[i] = '\0';
}

int bundle_create(const char *parent, pid_t pid, const char *rule, int64_t wall_ms, bundle **out)
{
	char ts[32], r[64];
	int rc;

	*out = NULL;
	rc = util_mkdir_p(parent, 0750);
	if (rc < 0)
		return rc;
	util_fmt_compact_time(wall_ms, ts, sizeof(ts));
	safe_name(rule, r, sizeof(r));

	bundle *b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->started_wall_ms = wall_ms;
	if (!util_snprintf(b->parent, sizeof(b->parent), "%s", parent)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	for (int n = 1; n < 1000; n++) {
		char final[PATH_MAX];
		if (n == 1)
			snprintf(b->id, sizeof(b->id), "%s-%d-%s", ts, (int)pid, r);
		else
			snprintf(b->id, sizeof(b->id), "%s-%d-%s-%d", ts, (int)pid, r, n);
		if (!util_snprintf(final, sizeof(final), "%s/%s", parent, b->id) ||
		    !util_snprintf(b->tmpdir, sizeof(b->tmpdir), "%s/%s.tmp", parent, b->id)) {
			rc = -ENAMETOOLONG;
			goto fail;
		}
		if (access(final, F_OK) == 0)
			continue;
		if (mkdir(b->tmpdir, 0750) == 0) {
			*out = b;
			return 0;
		}
		if (errno != EEXIST) {
			rc = -errno;
			goto fail;
		}
	}
	rc = -EEXIST;
fail:
	pthread_mutex_destroy(&b->lock);
	free(b);
	return rc;
}

const char *bundle_id(const bundle *b)
{
	return b->id;
}

const char *bundle_dir(const bundle *b)
{
	return b->tmpdir;
}

int bundle_add_file(bundle *b, const char *name, const char *kind, const char *format)
{
	char path[PATH_MAX];
	struct bundle_file f = {0};

	if (!util_snprintf(path, sizeof(path), "%s/%s", b->tmpdir, name))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = sha256_file(fd, 0, UINT64_MAX, f.sha256, &f.bytes);
	close(fd);
	if (rc < 0)
		return rc;
	f.name = xstrdup(name);
	f.kind = xstrdup(kind);
	f.format = xstrdup(format);

	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < b->nfiles; i++) {
		if (!strcmp(b->files[i].name, name)) { /* re-registered: replace */
			free(b->files[i].name);
			free(b->files[i].kind);
			free(b->files[i].format);
			b->files[i] = f;
			pthread_mutex_unlock(&b->lock);
			return 0;
		}
	}
	b->files = xrealloc(b->files, (b->nfiles + 1) * sizeof(*b->files));
	b->files[b->nfiles++] = f;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void add_kv(struct label **arr, size_t *n, const char *key, const char *value)
{
	for (size_t i = 0; i < *n; i++) {
		if (!strcmp((*arr)[i].key, key)) {
			char *joined = xasprintf("%s; %s", (*arr)[i].value, value);
			free((*arr)[i].value);
			(*arr)[i].value = joined;
			return;
		}
	}
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[*n].key = xstrdup(key);
	(*arr)[*n].value = xstrdup(value);
	(*n)++;
}

void bundle_add_error(bundle *b, const char *kind, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&b->lock);
	add_kv(&b->errors, &b->nerrors, kind, msg);
	pthread_mutex_unlock(&b->lock);
}

void bundle_add_note(bundle *b, const char *key, const char *value)
{
	pthread_mutex_lock(&b->lock);
	add_kv(&b->notes, &b->nnotes, key, value);
	pthread_mutex_unlock(&b->lock);
}

static void free_labels(struct label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

static void bundle_free(bundle *b)
{
	for (size_t i = 0; i < b->nfiles; i++) {
		free(b->files[i].name);
		free(b->files[i].kind);
		free(b->files[i].format);
	}
	free(b->files);
	free_labels(b->errors, b->nerrors);
	free_labels(b->notes, b->nnotes);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static const char *trigger_name(enum trigger_kind k)
{
	switch (k) {
	case TRIGGER_RULE: return "rule";
	case TRIGGER_API: return "api";
	case TRIGGER_ALERT: return "alert";
	case TRIGGER_MANUAL: return "manual";
	}
	return "manual";
}

static void json_time(struct json_writer *w, const char *key, int64_t wall_ms)
{
	char t[40];
	util_fmt_time(wall_ms, t, sizeof(t));
	json_kv_str(w, key, t);
}

static void json_labels(struct json_writer *w, const char *key, const struct label *l, size_t n)
{
	json_key(w, key);
	json_obj_begin(w);
	for (size_t i = 0; i < n; i++)
		json_kv_str(w, l[i].key, l[i].value);
	json_obj_end(w);
}

static void write_trigger(struct json_writer *w, const struct bundle_trigger *t)
{
	json_key(w, "trigger");
	json_obj_begin(w);
	json_kv_str(w, "kind", trigger_name(t->kind));
	if (t->kind == TRIGGER_RULE) {
		json_kv_str(w, "rule", t->rule);
		json_kv_str(w, "metric", metric_info(t->metric)->name);
		json_kv_str(w, "condition", t->condition);
		json_kv_double(w, "value", t->value);
		json_kv_double(w, "avg", t->avg);
		json_kv_double(w, "threshold", t->threshold);
	}
	if (t->kind == TRIGGER_ALERT) {
		json_labels(w, "labels", t->alert_labels, t->nalert_labels);
		json_labels(w, "annotations", t->alert_annotations, t->nalert_annotations);
		if (t->alert_generator_url)
			json_kv_str(w, "generator_url", t->alert_generator_url);
	}
	json_obj_end(w);
}

static void write_process(struct json_writer *w, const struct bundle_process *p)
{
	json_key(w, "process");
	json_obj_begin(w);
	json_kv_int(w, "pid", p->pid);
	if (p->start_wall_ms > 0)
		json_time(w, "start_time", p->start_wall_ms);
	else
		json_kv_str(w, "start_time", NULL);
	json_kv_int(w, "start_ticks", (int64_t)p->start_ticks);
	json_kv_str(w, "comm", p->comm);
	json_kv_str(w, "cmdline", p->cmdline);
	json_kv_str(w, "exe", p->exe);
	json_kv_str(w, "cgroup", p->cgroup);
	json_obj_end(w);
}

static void write_manifest(struct json_writer *w, bundle *b, const char *target,
			   const struct bundle_trigger *t, const struct bundle_process *p,
			   const struct label *labels, size_t nlabels)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);

	json_obj_begin(w);
	json_kv_str(w, "id", b->id);
	json_kv_str(w, "target", target);
	json_kv_str(w, "rule", t->kind == TRIGGER_RULE ? t->rule : trigger_name(t->kind));
	json_kv_str(w, "reason", t->reason ? t->reason : "");
	write_trigger(w, t);
	write_process(w, p);
	json_kv_str(w, "host", host);
	json_labels(w, "labels", labels, nlabels);
	json_key(w, "history");
	json_arr_begin(w);
	for (size_t i = 0; i < t->nhistory; i++) {
		json_obj_begin(w);
		json_time(w, "t", t->history[i].wall_ms);
		json_kv_double(w, "value", t->history[i].value);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_key(w, "files");
	json_arr_begin(w);
	for (size_t i = 0; i < b->nfiles; i++) {
		json_obj_begin(w);
		json_kv_str(w, "name", b->files[i].name);
		json_kv_str(w, "kind", b->files[i].kind);
		json_kv_int(w, "bytes", (int64_t)b->files[i].bytes);
		json_kv_str(w, "sha256", b->files[i].sha256);
		json_kv_str(w, "format", b->files[i].format);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_labels(w, "errors", b->errors, b->nerrors);
	if (b->nnotes)
		json_labels(w, "notes", b->notes, b->nnotes);
	json_time(w, "started_at", b->started_wall_ms);
	json_time(w, "finished_at", util_wall_ms());
	json_kv_str(w, "hound_version", PACKAGE_VERSION);
	json_obj_end(w);
}

static void fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int bundle_finish(bundle *b, const char *target, const struct bundle_trigger *trig,
		  const struct bundle_process *proc, const struct label *labels, size_t nlabels,
		  char *final_dir)
{
	struct json_writer w;
	char path[PATH_MAX], final[PATH_MAX];
	int rc;

	json_init(&w, true);
	pthread_mutex_lock(&b->lock);
	write_manifest(&w, b, target, trig, proc, labels, nlabels);
	pthread_mutex_unlock(&b->lock);
	if (!util_snprintf(path, sizeof(path), "%s/manifest.json", b->tmpdir) ||
	    !util_snprintf(final, sizeof(final), "%s/%s", b->parent, b->id))
		rc = -ENAMETOOLONG;
	else
		rc = util_write_file_atomic(path, w.buf, w.len);
	json_fini(&w);
	if (rc < 0)
		goto out;
	fsync_dir(b->tmpdir);
	if (rename(b->tmpdir, final) < 0) {
		rc = -errno;
		goto out;
	}
	fsync_dir(b->parent);
	if (final_dir)
		snprintf(final_dir, PATH_MAX, "%s", final);
out:
	if (rc < 0)
		util_rm_rf(b->tmpdir);
	bundle_free(b);
	return rc;
}

void bundle_abort(bundle *b)
{
	util_rm_rf(b->tmpdir);
	bundle_free(b);
}
