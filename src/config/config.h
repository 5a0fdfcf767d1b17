/* config: the YAML configuration, loaded into an immutable validated tree. */
#ifndef HOUND_CONFIG_H
#define HOUND_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "lib/metric.h"

/* Where a value came from, for messages at 3 a.m. */
struct src_pos {
	unsigned line, column; /* 1-based; 0 when not from a file */
};

/* One item of a `capture:` list. */
struct capture_item {
	enum capture_kind kind;
	int64_t duration_ms;  /* cpu and trace; 0 means the kind's default */
	char **argv;          /* command: NULL-terminated, NULL for other kinds */
	int64_t timeout_ms;   /* command time limit (default 30s) */
};

struct capture_list {
	struct capture_item *items;
	size_t n;
};

/*
 * A rule on the target's own numbers: `metric: {prometheus: 'NAME{l="v"}'}`
 * (every matching series summed; counters as a per-second rate) or
 * `metric: {expvar: a.b.c}`, read from url (default go.metrics, or
 * go.url/debug/vars).
 */
struct own_metric {
	char *query;          /* the series selector or the expvar path, NULL for built-in metrics */
	char *url;            /* NULL: the target's go.metrics / go.url */
};

struct rule_conf {
	char *name;
	enum metric_id metric;
	bool has_min, has_diff, has_abs;
	double min, abs;      /* in the metric's unit (bytes, %, count ...) */
	double diff;          /* fraction: 25% is 0.25 */
	int for_n;            /* consecutive firing evaluations (default 1) */
	int64_t cooldown_ms;  /* default 10m */
	bool has_trend;
	int64_t trend_window_ms;
	double trend_slope;   /* metric units per second */
	bool has_forecast;
	int64_t forecast_ms;
	bool has_below;
	double below;         /* fires when the value is at or under it */
	bool has_stalled;
	int64_t stalled_ms;   /* fires when the value has not changed for this long */
	struct own_metric own; /* metric is M_PROMETHEUS or M_EXPVAR: which series */
	struct capture_list capture;
	struct src_pos pos;
};

struct selector_conf {
	bool has_pid;
	pid_t pid;
	char *pidfile;
	char *comm;
	char *cmdline;        /* ERE source; compiled in cmdline_re */
	regex_t cmdline_re;
	char *exe;
	char *cgroup;         /* ERE source */
	regex_t cgroup_re;
	char *user;
	uid_t uid;            /* resolved from user at load time */
};

struct flight_recorder_conf {
	bool enabled;
	double rate_hz;       /* default 19 */
	int64_t keep_ms;      /* default 30s */
};

/* malloc: how heap captures of a native process track its allocator (eBPF). */
struct malloc_conf {
	bool disabled;	       /* enabled: false */
	uint64_t sample_bytes; /* sample: Poisson sampling mean, default 512KiB (0: default) */
	double budget;	       /* budget: fraction of one core, default 0.02 (0: default) */
};

struct target_conf {
	char *name;
	struct selector_conf match;
	char *go_url;         /* NULL unless go: */
	char *go_metrics;     /* NULL unless go.metrics */
	bool jvm_off;         /* jvm: false: never treated as a JVM */
	bool jvm_on;          /* jvm: true: also keep what attaching to another uid's JVM needs */
	struct rule_conf *rules;
	size_t nrules;
	int max_captures;     /* limits.max_captures, default 6 */
	int64_t limit_window_ms; /* limits.window, default 1h */
	int max_cores;        /* limits.max_cores: core dumps per window, default 1 */
	struct flight_recorder_conf flight_recorder;
	struct malloc_conf malloc;
	uint64_t metric_mask; /* METRIC_BIT of every metric its rules use */
	struct src_pos pos;
};

struct s3_conf {
	char *endpoint;
	char *bucket;
	char *region;
	char *prefix;
	bool path_style;
	char *access_key_id;
	char *secret_access_key;
	char *session_token;  /* may be "" */
	char *ca_file;        /* NULL: system CAs */
	uint64_t part_size;   /* multipart part size, default 16MiB */
	uint64_t multipart_threshold; /* default 64MiB */
};

struct upload_conf {
	bool enabled;
	struct s3_conf s3;
	int64_t keep_local_ms; /* default 24h */
};

struct label {
	char *key;
	char *value;
};

struct alert_route {
	struct label *match;
	size_t nmatch;
	char *target;         /* either target or target_label */
	char *target_label;
	struct capture_list capture;
	struct src_pos pos;
};

struct api_conf {
	bool enabled;
	char *listen;         /* host:port */
	char *token_file;
	char *token;          /* read from token_file at load time; never logged */
};

struct hound_config {
	char *path;
	int64_t interval_ms;  /* default 5s, 100ms .. 1h */
	int history;          /* default 10 */
	char *output;         /* default /var/lib/hound */
	uint64_t max_disk;    /* default 2GiB */
	struct label *labels;
	size_t nlabels;
	struct api_conf api;
	struct target_conf *targets;
	size_t ntargets;
	struct upload_conf upload;
	struct alert_route *alerts;
	size_t nalerts;
	char *run_as_user;   /* `user:`: run as this user after start-up; NULL: stay */
};

/* One error message per problem: "FILE:LINE:COL: KEY: message". */
struct config_errors {
	char **msgs;
	size_t n;
};

/*
 * Loads and validates path. On success returns 0 and *out (caller frees with
 * config_free). On failure returns -EINVAL (or -errno for I/O) and fills errs
 * with every problem found; *out is NULL. errs may be NULL.
 */
int config_load(const char *path, struct hound_config **out, struct config_errors *errs);
/* What a load may do besides reading the config itself. */
enum config_load_flag {
	/* Do not read the files the config names (api.token_file, upload.s3.ca_file):
	 * check a config off the machine it is for (`hound check --no-files`). */
	CONFIG_NO_FILES = 1u << 0,
};
int config_load_flags(const char *path, unsigned flags, struct hound_config **out,
		      struct config_errors *errs);
/* Same, from a buffer; name is used in messages. */
int config_load_buffer(const char *name, const char *buf, size_t len,
		       struct hound_config **out, struct config_errors *errs);
void config_free(struct hound_config *c);
void config_errors_fini(struct config_errors *errs);
/* Frees what a capture list owns (argv strings, items) and empties it. */
void capture_list_fini(struct capture_list *l);
/* Prints the effective configuration (defaults filled in, secrets redacted) as YAML. */
void config_print(const struct hound_config *c, FILE *out);
/* The default path: $HOUND_CONFIG or SYSCONFDIR/hound/hound.yaml. */
const char *config_default_path(void);
/* Finds a target by name, or NULL. */
const struct target_conf *config_find_target(const struct hound_config *c, const char *name);

#endif
