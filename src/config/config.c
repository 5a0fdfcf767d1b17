/* config: the YAML configuration, loaded into an immutable validated tree (libyaml lives here). */
#include "config/config.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "lib/units.h"
#include "lib/util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

#define CONFIG_MAX_FILE (4u << 20)

/* ---- the top level ------------------------------------------------------------------- */

static void defaults(struct hound_config *c)
{
	c->interval_ms = 5000;
	c->history = 10;
	c->output = xstrdup("/var/lib/hound");
	c->max_disk = 2ULL << 30;
}

enum {
	TOP_INTERVAL,
	TOP_HISTORY,
	TOP_OUTPUT,
	TOP_MAX_DISK,
	TOP_LABELS,
	TOP_API,
	TOP_TARGETS,
	TOP_UPLOAD,
	TOP_ALERTS,
	TOP_USER,
	TOP_N
};
static const char *const top_keys[TOP_N] = {"interval", "history", "output", "max_disk", "labels",
					    "api",	"targets", "upload", "alerts",	 "user"};

static void top(struct cfg *x, yaml_node_t *root)
{
	struct hound_config *c = x->c;
	yaml_node_t *v[TOP_N];

	if (!cfg_map(x, root, top_keys, TOP_N, v))
		return;
	if (cfg_duration(x, "interval", v[TOP_INTERVAL], &c->interval_ms) > 0 &&
	    (c->interval_ms < 100 || c->interval_ms > 3600000)) {
		size_t m = cfg_push(x, "interval");
		cfg_error(x, v[TOP_INTERVAL], "must be between 100ms and 1h");
		cfg_pop(x, m);
	}
	if (cfg_int(x, "history", v[TOP_HISTORY], &c->history) > 0 &&
	    (c->history < 2 || c->history > 1000)) {
		size_t m = cfg_push(x, "history");
		cfg_error(x, v[TOP_HISTORY], "must be between 2 and 1000");
		cfg_pop(x, m);
	}
	if (cfg_str(x, "output", v[TOP_OUTPUT], &c->output) > 0 && !c->output[0]) {
		size_t m = cfg_push(x, "output");
		cfg_error(x, v[TOP_OUTPUT], "must not be empty");
		cfg_pop(x, m);
	}
	if (cfg_size(x, "max_disk", v[TOP_MAX_DISK], &c->max_disk) > 0 &&
	    c->max_disk < (1u << 20)) {
		size_t m = cfg_push(x, "max_disk");
		cfg_error(x, v[TOP_MAX_DISK], "must be at least 1MiB");
		cfg_pop(x, m);
	}
	if (cfg_str(x, "user", v[TOP_USER], &c->run_as_user) > 0 && !getpwnam(c->run_as_user)) {
		size_t m = cfg_push(x, "user");
		cfg_error(x, v[TOP_USER], "unknown user '%s'", c->run_as_user);
		cfg_pop(x, m);
	}
	if (v[TOP_LABELS])
		cfg_label_map(x, "labels", v[TOP_LABELS], &c->labels, &c->nlabels);
	if (v[TOP_API])
		cfg_api(x, v[TOP_API]);
	if (v[TOP_TARGETS])
		cfg_targets(x, v[TOP_TARGETS]);
	if (v[TOP_UPLOAD])
		cfg_upload(x, v[TOP_UPLOAD]);
	if (v[TOP_ALERTS])
		cfg_alerts(x, v[TOP_ALERTS], v[TOP_API]);
}

static void yaml_problem(struct cfg *x, const yaml_parser_t *p)
{
	struct yaml_node_s fake;
	const char *problem = p->problem ? p->problem : "cannot parse";

	memset(&fake, 0, sizeof(fake));
	if (p->error == YAML_MEMORY_ERROR) {
		cfg_error(x, NULL, "yaml: out of memory");
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		cfg_error(x, NULL, "yaml: %s (at byte %zu)", problem, p->problem_offset);
		return;
	}
	fake.start_mark = p->problem_mark;
	if (p->context)
		cfg_error(x, &fake, "yaml: %s (%s at line %u)", problem, p->context,
			  (unsigned)p->context_mark.line + 1);
	else
		cfg_error(x, &fake, "yaml: %s", problem);
}

static int cmp_err(const void *a, const void *b)
{
	const struct cfg_err *ea = a, *eb = b;

	if (ea->line != eb->line)
		return ea->line < eb->line ? -1 : 1;
	if (ea->col != eb->col)
		return ea->col < eb->col ? -1 : 1;
	return ea->seq < eb->seq ? -1 : ea->seq > eb->seq;
}

/*
 * Refuses a document nested deeper than CFG_MAX_DEPTH, naming where, at the
 * cost of parsing only up to that point. 0: go on and load it.
 */
static int check_depth(struct cfg *x, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, rc = 0;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = 0; /* the loader reports the syntax error with its context */
			break;
		}
		yaml_event_type_t t = ev.type;
		if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) {
			if (++depth > CFG_MAX_DEPTH) {
				struct yaml_node_s at;
				memset(&at, 0, sizeof(at));
				at.start_mark = ev.start_mark;
				cfg_error(x, &at, "nesting deeper than %d levels: refused",
					  CFG_MAX_DEPTH);
				rc = -1;
			}
		} else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (rc || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}

static void parse_doc(struct cfg *x, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_document_t extra;
	yaml_node_t *root;

	if (check_depth(x, buf, len))
		return;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &x->doc)) {
		yaml_problem(x, &p);
		yaml_parser_delete(&p);
		return;
	}
	root = yaml_document_get_root_node(&x->doc);
	if (root) {
		if (!yaml_parser_load(&p, &extra)) {
			yaml_problem(x, &p);
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);
			if (r2)
				cfg_error(x, r2, "only one YAML document is allowed");
			yaml_document_delete(&extra);
		}
		top(x, root);
	}
	yaml_document_delete(&x->doc);
	yaml_parser_delete(&p);
}

static int load_buffer(const char *name, const char *buf, size_t len, unsigned flags,
		       struct hound_config **out, struct config_errors *errs)
{
	struct cfg x;
	struct hound_config *c = xcalloc(1, sizeof(*c));

	memset(&x, 0, sizeof(x));
	x.name = name;
	x.flags = flags;
	x.c = c;
	c->path = xstrdup(name);
	defaults(c);
	parse_doc(&x, buf, len);
	if (x.nerrs)
		qsort(x.errs, x.nerrs, sizeof(*x.errs), cmp_err);
	/* The summary lines go last and always fit. */
	x.summary = true;
	if (x.too_many) {
		x.nerrs--;
		free(x.errs[x.nerrs].msg);
		cfg_error(&x, NULL, "too many errors, stopping after %d", CFG_MAX_ERRORS - 1);
	}
	if (x.too_complex)
		cfg_error(&x, NULL, "the document is too complex (aliases expand to over %d nodes)",
			  CFG_MAX_VISITS);
	for (size_t i = 0; i < x.nerrs; i++) {
		if (errs) {
			errs->msgs = xrealloc(errs->msgs, (errs->n + 1) * sizeof(char *));
			errs->msgs[errs->n++] = x.errs[i].msg;
		} else {
			free(x.errs[i].msg);
		}
	}
	free(x.errs);
	if (x.nerrs) {
		config_free(c);
		*out = NULL;
		return -EINVAL;
	}
	*out = c;
	return 0;
}

int config_load_buffer(const char *name, const char *buf, size_t len, struct hound_config **out,
		       struct config_errors *errs)
{
	return load_buffer(name, buf, len, 0, out, errs);
}

int config_load(const char *path, struct hound_config **out, struct config_errors *errs)
{
	return config_load_flags(path, 0, out, errs);
}

int config_load_flags(const char *path, unsigned flags, struct hound_config **out,
		      struct config_errors *errs)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = util_read_file(path, &buf, &len, CONFIG_MAX_FILE);
	if (r < 0) {
		if (errs) {
			errs->msgs = xrealloc(errs->msgs, (errs->n + 1) * sizeof(char *));
			errs->msgs[errs->n++] =
			    r == -EFBIG
				? xasprintf("%s: larger than %u bytes", path, CONFIG_MAX_FILE)
				: xasprintf("%s: cannot read: %s", path, strerror(-r));
		}
		return r;
	}
	r = load_buffer(path, buf, len, flags, out, errs);
	free(buf);
	return r;
}

void config_errors_fini(struct config_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

void config_free(struct hound_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->output);
	free(c->run_as_user);
	cfg_free_labels(c->labels, c->nlabels);
	free(c->api.listen);
	free(c->api.token_file);
	if (c->api.token) {
		/* The token is a secret: do not leave it in freed memory. */
		memset(c->api.token, 0, strlen(c->api.token));
		free(c->api.token);
	}
	for (size_t i = 0; i < c->ntargets; i++)
		cfg_free_target(&c->targets[i]);
	free(c->targets);
	free(c->upload.s3.endpoint);
	free(c->upload.s3.bucket);
	free(c->upload.s3.region);
	free(c->upload.s3.prefix);
	free(c->upload.s3.access_key_id);
	free(c->upload.s3.secret_access_key);
	free(c->upload.s3.session_token);
	free(c->upload.s3.ca_file);
	for (size_t i = 0; i < c->nalerts; i++) {
		cfg_free_labels(c->alerts[i].match, c->alerts[i].nmatch);
		free(c->alerts[i].target);
		free(c->alerts[i].target_label);
		capture_list_fini(&c->alerts[i].capture);
	}
	free(c->alerts);
	free(c);
}

const char *config_default_path(void)
{
	const char *e = getenv("HOUND_CONFIG");

	return e && *e ? e : SYSCONFDIR "/hound/hound.yaml";
}
