/* uploader: a thread that drains the spool into the object store, retrying forever. */
#ifndef HOUND_UPLOADER_H
#define HOUND_UPLOADER_H

#include <stdint.h>

struct hound_config;

typedef struct uploader uploader;

struct uploader_stats {
	uint64_t uploaded_bundles, uploaded_bytes;
	uint64_t upload_errors;       /* failed attempts of any kind (auth included) */
	uint64_t auth_errors;         /* 401/403 answers: credentials or signature refused */
	uint64_t pending_bundles, pending_bytes; /* as of the last scan */
	int64_t last_success_wall_ms; /* last bundle completed; 0 if none yet */
};

/*
 * Creates an uploader for cfg->upload (copied: cfg may be freed afterwards,
 * e.g. on reload). When upload is not enabled, returns 0 with *out = NULL;
 * every function below accepts NULL and does nothing. Returns -EINVAL for an
 * unusable endpoint.
 */
int uploader_new(const struct hound_config *cfg, uploader **out);
/* Starts the thread. 0 or -errno. */
int uploader_start(uploader *u);
/* A bundle was just completed: look at the spool now (unless backing off). */
void uploader_kick(uploader *u);
/*
 * Bounded drain: keeps uploading what is pending until the spool is empty or
 * util_mono_ms() reaches deadline_ms, then cancels any transfer in flight and
 * joins the thread. What is left stays in the spool for the next start.
 */
void uploader_stop(uploader *u, int64_t deadline_ms);
void uploader_free(uploader *u);
/* Thread-safe snapshot. */
void uploader_get_stats(uploader *u, struct uploader_stats *out);

#endif
