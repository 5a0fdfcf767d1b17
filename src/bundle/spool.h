/* spool: the output directory as the upload queue, with per-bundle upload state on disk. */
#ifndef HOUND_SPOOL_H
#define HOUND_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Layout: OUTPUT/bundles/TARGET/ID/ is a complete bundle (ID.tmp/ is still
 * being written and is never touched here). OUTPUT/bundles/TARGET/ID/.upload
 * records which files are in the bucket, one "file NAME" line each, and a
 * final "complete" line once manifest.json (always last) is there. It is
 * replaced atomically after every file, so a restarted agent re-uploads only
 * what is missing.
 */
#define SPOOL_STATE_FILE ".upload"
/* OUTPUT/bundles/TARGET/ID/.multipart.NAME: an unfinished multipart upload of NAME (mpstate.h). */
#define SPOOL_MULTIPART_PREFIX ".multipart."

enum spool_bundle_state { SPOOL_PENDING = 0, SPOOL_PARTIAL = 1, SPOOL_UPLOADED = 2 };

/* Bytes used under output (the whole spool, .tmp bundles included); 0 if it does not exist. */
int64_t spool_usage(const char *output);

/*
 * Free space a capture needs on the spool's filesystem before it starts:
 * 1% of the filesystem, at least SPOOL_MIN_FREE_LOW, at most SPOOL_MIN_FREE_HIGH.
 */
#define SPOOL_MIN_FREE_LOW (4ull << 20)
#define SPOOL_MIN_FREE_HIGH (64ull << 20)
uint64_t spool_min_free(uint64_t fs_bytes);

/*
 * Called before a capture (before any process is stopped): evicts uploaded
 * bundles, oldest first, until the usage is below max_disk and the
 * filesystem has spool_min_free() bytes available. Returns 0 when a new
 * capture may proceed, -EDQUOT when the spool is still over max_disk,
 * -ENOSPC when its filesystem is still short of space (the caller logs and
 * counts the refusal). Bundles not yet uploaded are never deleted. max_disk
 * 0 means no quota. *avail (may be NULL) gets the bytes available, or -1.
 */
int spool_admit(const char *output, uint64_t max_disk, bool upload_enabled, int64_t *avail);

/* Deletes bundles whose upload completed more than keep_local_ms ago. */
void spool_expire(const char *output, int64_t keep_local_ms);

/* SPOOL_PENDING, SPOOL_PARTIAL or SPOOL_UPLOADED for one bundle directory. */
int spool_bundle_state(const char *bundle_dir);

/* One complete bundle in the spool. */
struct spool_entry {
	char *target;
	char *id;
	char *dir;       /* OUTPUT/bundles/TARGET/ID */
	int state;       /* enum spool_bundle_state */
};

/* Lists complete bundles, oldest first (by ID, which starts with the time). Caller frees. */
int spool_list(const char *output, struct spool_entry **out, size_t *n);
void spool_list_free(struct spool_entry *e, size_t n);

/* The upload state of one bundle. */
struct spool_state {
	char **done;     /* file names already in the bucket */
	size_t n;
	bool complete;
};

/* Loads dir/.upload (missing file: nothing done). 0 or -errno. */
int spool_state_load(const char *bundle_dir, struct spool_state *st);
bool spool_state_has(const struct spool_state *st, const char *name);
/* Records name as uploaded (and complete when it was the last) and rewrites .upload atomically. */
int spool_state_mark(const char *bundle_dir, struct spool_state *st, const char *name,
		     bool complete);
void spool_state_fini(struct spool_state *st);

/*
 * The files to upload from a bundle, sorted, manifest.json last; dotfiles and
 * anything not a regular file are skipped. Caller frees each name and the array.
 */
int spool_bundle_files(const char *bundle_dir, char ***names, size_t *n);

#endif
