/* s3: uploads files to an S3-compatible object store (SigV4, single PUT or multipart). */
#ifndef HOUND_S3_H
#define HOUND_S3_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

typedef struct s3_client s3_client;

/* What a failed call saw, for logs and for the retry policy. */
struct s3_error {
	long status;     /* HTTP status, 0 when the request got no answer */
	char code[64];   /* S3 error code from the XML body ("SignatureDoesNotMatch"), or "" */
	char msg[512];   /* a sentence: what, which key, why */
};

/*
 * Creates a client for conf (copied; conf may go away). One client per thread:
 * it owns one keep-alive connection. Returns 0 or -EINVAL (bad endpoint).
 */
int s3_client_new(const struct s3_conf *conf, s3_client **out);
void s3_client_free(s3_client *s);

/*
 * Optional: *cancel becoming nonzero stops a transfer in flight (-ECANCELED).
 * The flag must outlive the client.
 */
void s3_client_set_cancel(s3_client *s, const int *cancel);

/*
 * Uploads the file at path to the object key (prefix NOT added here; the key
 * is used as given). Files up to conf->multipart_threshold go in one PUT,
 * larger ones as a multipart upload with conf->part_size parts, each part
 * retried on its own. With resume (a state file path, may be NULL) the
 * upload's id and stored parts are recorded there: a later call for the same
 * file (after a failure or a restart) sends only the missing parts, and the
 * file is removed once the object is complete. Without it, a multipart upload
 * that gives up is aborted. The file streams from disk. Returns 0, or:
 *   -EACCES  the store refused the credentials or signature (401/403)
 *   -EIO     the store answered with another error (5xx, 4xx)
 *   -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -EPROTO: transport errors
 *   -ENOENT / -errno: the local file could not be read
 * err (may be NULL) says what happened.
 */
int s3_put_file(s3_client *s, const char *key, const char *path, const char *resume,
		struct s3_error *err);

/* The URL of key (percent-encoded, path-style or virtual-hosted). Caller frees. */
char *s3_object_url(const s3_client *s, const char *key, const char *query);

/* RFC 3986 encoding of an object key: every byte but A-Z a-z 0-9 - _ . ~ / as %XX. */
char *s3_encode_key(const char *key);

/* The Content-Type hound sends for a bundle file name. */
const char *s3_content_type(const char *name);

#endif
