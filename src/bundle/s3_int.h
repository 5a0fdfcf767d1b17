/* s3_int: what s3.c (client, requests) gives s3_upload.c (files); not for other modules. */
#ifndef HOUND_S3_INT_H
#define HOUND_S3_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bundle/s3.h"
#include "lib/http_client.h"

#define MIN_PART (5ull << 20)       /* S3's smallest non-final part */
#define MAX_PARTS 10000u            /* S3's largest part count */
#define PART_ATTEMPTS 4             /* tries per part before this attempt gives up */

struct s3_client {
	http_client *http;
	char *scheme;       /* "http" or "https" */
	char *hostport;     /* "s3.amazonaws.com", "127.0.0.1:9000" */
	char *base_path;    /* endpoint path without trailing slash, usually "" */
	char *bucket;
	bool path_style;
	bool sign_payload;  /* sha256 of the body in the signature (plain http) */
	char *sigv4;        /* "aws:amz:REGION:s3" */
	char *userpwd;      /* "AKID:SECRET" */
	char *token_hdr;    /* "x-amz-security-token: ..." or NULL */
	char *ca_file;
	uint64_t part_size, threshold;
	/*
	 * After a request timed out (the link is too slow for the size of what
	 * was in flight): the largest body to send at once from now on, 0 while
	 * nothing timed out. Smaller parts mean less to resend after the next stall.
	 */
	uint64_t slow_part;
	const int *cancel;
};

/* A request body: a file range (streamed) or a buffer. */
struct body {
	int fd;             /* -1: use buf */
	off_t off;
	uint64_t len;
	const char *buf;
};

/*
 * One signed request. Returns 0 for a 2xx answer (resp filled; caller finis it),
 * else fills err and returns -EACCES / -EIO / a transport -errno.
 */
int s3_request(s3_client *s, const char *method, const char *key, const char *query,
	       const struct body *b, const char *ctype, struct http_response *resp,
	       struct s3_error *err);
/* Text of the first <tag>...</tag> in xml, entities decoded (caller frees), or NULL. */
char *s3_xml_text(const char *xml, const char *tag);
/* A query value: like a key, but '/' is encoded too. Caller frees. */
char *s3_encode_query_value(const char *v);

#endif
