/* config_sections: the labels, api, upload and alerts sections of the configuration. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_int.h"
#include "lib/util.h"

#define TOKEN_MAX (64u << 10)

void cfg_free_labels(struct label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

static bool label_name_ok(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

void cfg_label_map(struct cfg *x, const char *key, yaml_node_t *n, struct label **out, size_t *nout)
{
	size_t mark = cfg_push(x, key), cap;

	if (cfg_is_null(n))
		goto out;
	if (n->type != YAML_MAPPING_NODE) {
		cfg_error(x, n, "expected a mapping of label names to values");
		goto out;
	}
	cap = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (cap > CFG_MAX_LABELS) {
		cfg_error(x, n, "at most %d labels", CFG_MAX_LABELS);
		goto out;
	}
	*out = xcalloc(cap ? cap : 1, sizeof(**out));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = cfg_node(x, p->key), *v = cfg_node(x, p->value);
		const char *name;
		struct label *l;
		bool dup = false;

		if (!k || !v)
			break;
		if (k->type != YAML_SCALAR_NODE) {
			cfg_error(x, k, "expected a label name");
			continue;
		}
		name = (const char *)k->data.scalar.value;
		for (size_t i = 0; i < *nout; i++)
			dup |= strcmp((*out)[i].key, name) == 0;
		if (!label_name_ok(name) || dup) {
			size_t m = cfg_push(x, name);
			cfg_error(x, k,
				  dup ? "duplicate label"
				      : "a label name must match [A-Za-z_][A-Za-z0-9_]*");
			cfg_pop(x, m);
			continue;
		}
		l = &(*out)[(*nout)++];
		l->key = xstrdup(name);
		if (cfg_str(x, name, v, &l->value) < 0)
			l->value = xstrdup("");
	}
out:
	cfg_pop(x, mark);
}

/* "HOST:PORT" or "[V6]:PORT"; an empty host means every interface. */
static int parse_listen(const char *s, bool *loopback)
{
	char host[256];
	const char *port, *end;
	size_t hl;
	unsigned char addr[16];
	long p;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		port = end + 2;
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
	} else {
		end = strrchr(s, ':');
		if (!end)
			return -EINVAL;
		hl = (size_t)(end - s);
		port = end + 1;
		if (hl >= sizeof(host) || memchr(s, ':', hl))
			return -EINVAL;
		memcpy(host, s, hl);
	}
	host[hl] = '\0';
	if (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
		return -EINVAL;
	p = strtol(port, NULL, 10);
	if (p < 1 || p > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, addr) == 1)
		*loopback = addr[0] == 127;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		*loopback = memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
	else if (s[0] == '[')
		return -EINVAL;
	else
		*loopback = strcmp(host, "localhost") == 0;
	return 0;
}

enum { A_LISTEN, A_TOKEN_FILE, A_N };
static const char *const api_keys[A_N] = {"listen", "token_file"};

static void read_token(struct cfg *x, yaml_node_t *n, struct api_conf *api)
{
	char *buf = NULL, *s, *e;
	size_t len = 0, m = cfg_push(x, "token_file");
	int r;

	if (!api->token_file[0]) {
		cfg_error(x, n, "must not be empty");
		goto out;
	}
	if (x->flags & CONFIG_NO_FILES)
		goto out;
	r = util_read_file(api->token_file, &buf, &len, TOKEN_MAX);
	if (r < 0) {
		cfg_error(x, n, "cannot read '%s': %s", api->token_file,
			  r == -EFBIG ? "file too large" : strerror(-r));
		goto out;
	}
	for (s = buf; *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'; s++)
		;
	for (e = s + strlen(s);
	     e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r');)
		e--;
	if (e == s) {
		cfg_error(x, n, "'%s' is empty", api->token_file);
	} else {
		api->token = xstrndup(s, (size_t)(e - s));
	}
	memset(buf, 0, len);
	free(buf);
out:
	cfg_pop(x, m);
}

void cfg_api(struct cfg *x, yaml_node_t *n)
{
	struct api_conf *api = &x->c->api;
	yaml_node_t *v[A_N];
	size_t mark = cfg_push(x, "api");
	bool loopback = true;

	api->enabled = true;
	api->listen = xstrdup("127.0.0.1:9155");
	if (!cfg_map(x, n, api_keys, A_N, v))
		goto out;
	if (cfg_str(x, "listen", v[A_LISTEN], &api->listen) > 0 &&
	    parse_listen(api->listen, &loopback) < 0) {
		size_t m = cfg_push(x, "listen");
		cfg_error(x, v[A_LISTEN], "expected HOST:PORT like 127.0.0.1:9155, got '%s'",
			  api->listen);
		cfg_pop(x, m);
		loopback = true;
	}
	if (cfg_str(x, "token_file", v[A_TOKEN_FILE], &api->token_file) > 0)
		read_token(x, v[A_TOKEN_FILE], api);
	if (!loopback && !v[A_TOKEN_FILE]) {
		size_t m = cfg_push(x, "listen");
		cfg_error(x, v[A_LISTEN],
			  "'%s' is not a loopback address: set api.token_file, or anyone who can "
			  "reach it can trigger captures",
			  api->listen);
		cfg_pop(x, m);
	}
out:
	cfg_pop(x, mark);
}

enum { U_S3, U_KEEP_LOCAL, U_N };
static const char *const upload_keys[U_N] = {"s3", "keep_local"};
enum {
	S_ENDPOINT,
	S_BUCKET,
	S_REGION,
	S_PREFIX,
	S_PATH_STYLE,
	S_AKID,
	S_SECRET,
	S_TOKEN,
	S_CA_FILE,
	S_PART_SIZE,
	S_THRESHOLD,
	S_N
};
static const char *const s3_keys[S_N] = {"endpoint",
					 "bucket",
					 "region",
					 "prefix",
					 "path_style",
					 "access_key_id",
					 "secret_access_key",
					 "session_token",
					 "ca_file",
					 "part_size",
					 "multipart_threshold"};

/* A credential: the key's value, else the environment variable, else an error when required. */
static void credential(struct cfg *x, yaml_node_t *s3, yaml_node_t *n, const char *key,
		       const char *env, bool required, char **out)
{
	size_t m = cfg_push(x, key);
	const char *e;

	if (n) {
		if (cfg_str(x, NULL, n, out) > 0 && required && !**out)
			cfg_error(x, n, "is empty");
	} else if ((e = getenv(env)) && (*e || !required)) {
		*out = xstrdup(e);
	} else if (required) {
		cfg_error(x, s3, "not set, and %s is not in the environment", env);
	} else {
		*out = xstrdup("");
	}
	cfg_pop(x, m);
}

static void bad_at(struct cfg *x, const char *key, yaml_node_t *n, const char *msg)
{
	size_t m = cfg_push(x, key);
	cfg_error(x, n, "%s", msg);
	cfg_pop(x, m);
}

static void s3(struct cfg *x, yaml_node_t *n)
{
	struct s3_conf *s = &x->c->upload.s3;
	yaml_node_t *v[S_N];
	size_t mark = cfg_push(x, "s3");

	s->region = xstrdup("us-east-1");
	s->prefix = xstrdup("");
	s->part_size = 16u << 20;
	s->multipart_threshold = 64u << 20;
	if (!cfg_map(x, n, s3_keys, S_N, v))
		goto out;
	if (!v[S_BUCKET])
		cfg_missing(x, n, "bucket");
	else if (cfg_str(x, "bucket", v[S_BUCKET], &s->bucket) > 0 &&
		 (!s->bucket[0] || strchr(s->bucket, '/')))
		bad_at(x, "bucket", v[S_BUCKET], "must be a bucket name (not empty, no '/')");
	if (cfg_str(x, "region", v[S_REGION], &s->region) > 0 && !s->region[0])
		bad_at(x, "region", v[S_REGION], "must not be empty");
	if (cfg_str(x, "endpoint", v[S_ENDPOINT], &s->endpoint) > 0) {
		if (!util_str_has_prefix(s->endpoint, "http://") &&
		    !util_str_has_prefix(s->endpoint, "https://"))
			bad_at(x, "endpoint", v[S_ENDPOINT],
			       "expected a URL starting with http:// or https://");
	} else {
		s->endpoint = xasprintf("https://s3.%s.amazonaws.com", s->region);
	}
	cfg_str(x, "prefix", v[S_PREFIX], &s->prefix);
	cfg_bool(x, "path_style", v[S_PATH_STYLE], &s->path_style);
	credential(x, n, v[S_AKID], "access_key_id", "AWS_ACCESS_KEY_ID", true, &s->access_key_id);
	credential(x, n, v[S_SECRET], "secret_access_key", "AWS_SECRET_ACCESS_KEY", true,
		   &s->secret_access_key);
	credential(x, n, v[S_TOKEN], "session_token", "AWS_SESSION_TOKEN", false,
		   &s->session_token);
	if (cfg_str(x, "ca_file", v[S_CA_FILE], &s->ca_file) > 0 && !(x->flags & CONFIG_NO_FILES) &&
	    access(s->ca_file, R_OK) < 0) {
		size_t m = cfg_push(x, "ca_file");
		cfg_error(x, v[S_CA_FILE], "cannot read '%s': %s", s->ca_file, strerror(errno));
		cfg_pop(x, m);
	}
	if (cfg_size(x, "part_size", v[S_PART_SIZE], &s->part_size) > 0 &&
	    (s->part_size < (5u << 20) || s->part_size > (5ULL << 30)))
		bad_at(x, "part_size", v[S_PART_SIZE],
		       "must be between 5MiB and 5GiB (S3's part limits)");
	if (cfg_size(x, "multipart_threshold", v[S_THRESHOLD], &s->multipart_threshold) > 0 &&
	    (s->multipart_threshold < (5u << 20) || s->multipart_threshold > (5ULL << 30)))
		bad_at(x, "multipart_threshold", v[S_THRESHOLD],
		       "must be between 5MiB and 5GiB (S3's single PUT limit)");
out:
	cfg_pop(x, mark);
}

void cfg_upload(struct cfg *x, yaml_node_t *n)
{
	struct upload_conf *u = &x->c->upload;
	yaml_node_t *v[U_N];
	size_t mark = cfg_push(x, "upload");

	u->enabled = true;
	u->keep_local_ms = 24 * 3600 * 1000LL;
	if (!cfg_map(x, n, upload_keys, U_N, v))
		goto out;
	if (v[U_S3])
		s3(x, v[U_S3]);
	else
		cfg_missing(x, n, "s3");
	cfg_duration(x, "keep_local", v[U_KEEP_LOCAL], &u->keep_local_ms);
out:
	cfg_pop(x, mark);
}

enum { AL_MATCH, AL_TARGET, AL_TARGET_LABEL, AL_CAPTURE, AL_N };
static const char *const alert_keys[AL_N] = {"match", "target", "target_label", "capture"};

static void alert(struct cfg *x, yaml_node_t *n, struct alert_route *a)
{
	struct hound_config *c = x->c;
	yaml_node_t *v[AL_N];
	int go = -1;

	a->pos.line = (unsigned)n->start_mark.line + 1;
	a->pos.column = (unsigned)n->start_mark.column + 1;
	if (!cfg_map(x, n, alert_keys, AL_N, v))
		return;
	if (!v[AL_MATCH]) {
		cfg_missing(x, n, "match");
	} else {
		cfg_label_map(x, "match", v[AL_MATCH], &a->match, &a->nmatch);
		if (!a->nmatch &&
		    (cfg_is_null(v[AL_MATCH]) || v[AL_MATCH]->type == YAML_MAPPING_NODE))
			bad_at(x, "match", v[AL_MATCH], "must name at least one label");
	}
	if (v[AL_TARGET] && v[AL_TARGET_LABEL]) {
		cfg_error(x, n, "give either target or target_label, not both");
	} else if (!v[AL_TARGET] && !v[AL_TARGET_LABEL]) {
		cfg_error(x, n, "missing required key 'target' (or 'target_label')");
	} else if (cfg_str(x, "target", v[AL_TARGET], &a->target) > 0) {
		const struct target_conf *t = config_find_target(c, a->target);
		if (t) {
			go = t->go_url != NULL;
		} else {
			const char **names = xcalloc(c->ntargets + 1, sizeof(*names));
			const char *hint;
			size_t m = cfg_push(x, "target");
			for (size_t i = 0; i < c->ntargets; i++)
				names[i] = c->targets[i].name ? c->targets[i].name : "";
			hint = cfg_suggest(a->target, names, c->ntargets);
			if (hint)
				cfg_error(x, v[AL_TARGET],
					  "unknown target '%s', did you mean '%s'?", a->target,
					  hint);
			else
				cfg_error(x, v[AL_TARGET], "unknown target '%s'", a->target);
			cfg_pop(x, m);
			free(names);
		}
	} else if (cfg_str(x, "target_label", v[AL_TARGET_LABEL], &a->target_label) > 0 &&
		   !a->target_label[0]) {
		bad_at(x, "target_label", v[AL_TARGET_LABEL], "must not be empty");
	}
	if (!v[AL_CAPTURE])
		cfg_missing(x, n, "capture");
	else
		cfg_capture_list(x, "capture", v[AL_CAPTURE], go, &a->capture);
}

void cfg_alerts(struct cfg *x, yaml_node_t *n, yaml_node_t *api)
{
	struct hound_config *c = x->c;
	yaml_node_item_t *items;
	size_t mark = cfg_push(x, "alerts");
	long cnt;

	if (!api)
		cfg_error(x, n, "needs api: (Alertmanager posts its webhook to the HTTP API)");
	cnt = cfg_seq(x, n, &items);
	if (cnt > CFG_MAX_TARGETS) {
		cfg_error(x, n, "at most %d alert routes", CFG_MAX_TARGETS);
		cnt = -1;
	}
	if (cnt > 0) {
		c->alerts = xcalloc((size_t)cnt, sizeof(*c->alerts));
		c->nalerts = (size_t)cnt;
	}
	for (long i = 0; i < cnt; i++) {
		yaml_node_t *item = cfg_node(x, items[i]);
		size_t m;
		if (!item)
			break;
		m = cfg_push_index(x, (size_t)i);
		alert(x, item, &c->alerts[i]);
		cfg_pop(x, m);
	}
	cfg_pop(x, mark);
}
