/* s3: uploads files to an S3-compatible object store (SigV4, single PUT or multipart). */
#include "bundle/s3.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle/mpstate.h"
#include "lib/http_client.h"
#include "lib/log.h"
#include "lib/md5.h"
#include "lib/sha256.h"
#include "lib/util.h"

#define MIN_PART (5ull << 20)       /* S3's smallest non-final part */
#define MAX_PARTS 10000u            /* S3's largest part count */
#define PART_ATTEMPTS 4             /* tries per part before this attempt gives up */
#define MAX_XML_RESPONSE (1u << 20) /* S3 answers are small XML documents */
/*
 * No total deadline, which a slow link cannot meet however healthy: a
 * request is abandoned only when less than LOW_SPEED_BPS move for
 * LOW_SPEED_S seconds (a stalled connection or a store that stopped answering).
 */
#define LOW_SPEED_BPS 1024L
#define LOW_SPEED_S 30L

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

char *s3_encode_key(const char *key)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(key);
	char *out = xmalloc(3 * n + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		unsigned char ch = *p;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/') {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

const char *s3_content_type(const char *name)
{
	static const struct {
		const char *suffix, *type;
	} types[] = {
		{ ".json", "application/json" },
		{ ".gz", "application/gzip" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".folded", "text/plain; charset=utf-8" },
	};
	size_t n = strlen(name);
	for (size_t i = 0; i < ARRAY_LEN(types); i++) {
		size_t k = strlen(types[i].suffix);
		if (n >= k && strcmp(name + n - k, types[i].suffix) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

int s3_client_new(const struct s3_conf *conf, s3_client **out)
{
	*out = NULL;
	const char *ep = conf->endpoint;
	char *owned = NULL;
	if (!ep || !*ep)
		ep = owned = xasprintf("https://s3.%s.amazonaws.com",
				       conf->region && *conf->region ? conf->region : "us-east-1");
	const char *sep = strstr(ep, "://");
	if (!sep || !conf->bucket || !*conf->bucket ||
	    (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)) {
		log_error("bad S3 endpoint or bucket", "endpoint=%s bucket=%s", ep,
			  conf->bucket ? conf->bucket : "");
		free(owned);
		return -EINVAL;
	}
	s3_client *s = xcalloc(1, sizeof(*s));
	if (http_client_new(&s->http) < 0) {
		free(owned);
		free(s);
		return -ENOMEM;
	}
	s->scheme = xstrndup(ep, (size_t)(sep - ep));
	const char *host = sep + 3, *slash = strchr(host, '/');
	s->hostport = slash ? xstrndup(host, (size_t)(slash - host)) : xstrdup(host);
	s->base_path = xstrdup(slash ? slash : "");
	size_t bl = strlen(s->base_path);
	while (bl > 0 && s->base_path[bl - 1] == '/')
		s->base_path[--bl] = '\0';
	s->bucket = xstrdup(conf->bucket);
	s->path_style = conf->path_style;
	/* Over TLS the channel already protects the body; botocore also sends
	 * UNSIGNED-PAYLOAD there. Over plain http the signature covers the bytes. */
	s->sign_payload = strcmp(s->scheme, "https") != 0;
	s->sigv4 = xasprintf("aws:amz:%s:s3",
			     conf->region && *conf->region ? conf->region : "us-east-1");
	s->userpwd = xasprintf("%s:%s", conf->access_key_id ? conf->access_key_id : "",
			       conf->secret_access_key ? conf->secret_access_key : "");
	if (conf->session_token && *conf->session_token)
		s->token_hdr = xasprintf("x-amz-security-token: %s", conf->session_token);
	s->ca_file = conf->ca_file ? xstrdup(conf->ca_file) : NULL;
	s->part_size = conf->part_size ? conf->part_size : 16ull << 20;
	if (s->part_size < MIN_PART)
		s->part_size = MIN_PART;
	s->threshold = conf->multipart_threshold ? conf->multipart_threshold : 64ull << 20;
	free(owned);
	*out = s;
	return 0;
}

void s3_client_free(s3_client *s)
{
	if (!s)
		return;
	http_client_free(s->http);
	free(s->scheme);
	free(s->hostport);
	free(s->base_path);
	free(s->bucket);
	free(s->sigv4);
	if (s->userpwd) {
		explicit_bzero(s->userpwd, strlen(s->userpwd));
		free(s->userpwd);
	}
	free(s->token_hdr);
	free(s->ca_file);
	free(s);
}

void s3_client_set_cancel(s3_client *s, const int *cancel)
{
	s->cancel = cancel;
}

char *s3_object_url(const s3_client *s, const char *key, const char *query)
{
	char *ek = s3_encode_key(key), *url;
	const char *q = query ? "?" : "", *qs = query ? query : "";
	if (s->path_style)
		url = xasprintf("%s://%s%s/%s/%s%s%s", s->scheme, s->hostport, s->base_path,
				s->bucket, ek, q, qs);
	else
		url = xasprintf("%s://%s.%s%s/%s%s%s", s->scheme, s->bucket, s->hostport,
				s->base_path, ek, q, qs);
	free(ek);
	return url;
}

/* Text of the first <tag>...</tag> in xml with the five XML entities decoded. */
static char *xml_text(const char *xml, const char *tag)
{
	if (!xml)
		return NULL;
	char open[64], close[64];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *a = strstr(xml, open);
	if (!a)
		return NULL;
	a += strlen(open);
	const char *b = strstr(a, close);
	if (!b)
		return NULL;
	char *out = xmalloc((size_t)(b - a) + 1), *o = out;
	static const struct {
		const char *ent;
		char ch;
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		     { "&apos;", '\'' } };
	while (a < b) {
		size_t i;
		for (i = 0; i < ARRAY_LEN(ents); i++) {
			size_t k = strlen(ents[i].ent);
			if ((size_t)(b - a) >= k && strncmp(a, ents[i].ent, k) == 0) {
				*o++ = ents[i].ch;
				a += k;
				break;
			}
		}
		if (i == ARRAY_LEN(ents))
			*o++ = *a++;
	}
	*o = '\0';
	return out;
}

/* A query value: like a key, but '/' is encoded too. */
static char *encode_query_value(const char *v)
{
	char *ek = s3_encode_key(v), *out = xmalloc(3 * strlen(ek) + 1), *o = out;
	for (const char *c = ek; *c; c++) {
		if (*c == '/') {
			memcpy(o, "%2F", 3);
			o += 3;
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
	free(ek);
	return out;
}

struct body {
	int fd;             /* -1: use buf */
	off_t off;
	uint64_t len;
	const char *buf;
};

/* A body of len bytes stalled: send at most half as much at once from now on (S3's minimum at least). */
static void shrink_parts(s3_client *s, uint64_t len)
{
	uint64_t cur = s->slow_part && s->slow_part < len ? s->slow_part : len;
	uint64_t next = (cur / 2 + (1ull << 20) - 1) & ~((1ull << 20) - 1); /* whole MiB */
	if (next < MIN_PART)
		next = MIN_PART;
	if (s->slow_part && next >= s->slow_part)
		return;
	s->slow_part = next;
	log_warn("upload timed out on a slow link: sending smaller parts", "failed_bytes=%llu part_size=%llu",
		 (unsigned long long)len, (unsigned long long)next);
}

/*
 * One signed request. Returns 0 for a 2xx answer (resp filled; caller finis it),
 * else fills err and returns -EACCES / -EIO / a transport -errno.
 */
static int s3_request(s3_client *s, const char *method, const char *key, const char *query,
		      const struct body *b, const char *ctype, struct http_response *resp,
		      struct s3_error *err)
{
	char hash[65] = "UNSIGNED-PAYLOAD", hash_hdr[96], ctype_hdr[160];
	const char *hdrs[4];
	size_t nh = 0;
	uint64_t len = b ? b->len : 0;
	int rc;

	if (s->sign_payload) {
		if (b && b->fd >= 0) {
			rc = sha256_file(b->fd, (uint64_t)b->off, b->len, hash, NULL);
			if (rc < 0) {
				snprintf(err->msg, sizeof(err->msg), "hashing %s: %s", key,
					 strerror(-rc));
				return rc;
			}
		} else {
			struct sha256_ctx c;
			uint8_t dg[32];
			sha256_init(&c);
			if (b)
				sha256_update(&c, b->buf, b->len);
			sha256_final(&c, dg);
			sha256_hex(dg, hash);
		}
	}
	snprintf(hash_hdr, sizeof(hash_hdr), "x-amz-content-sha256: %s", hash);
	hdrs[nh++] = hash_hdr;
	if (ctype) {
		snprintf(ctype_hdr, sizeof(ctype_hdr), "Content-Type: %s", ctype);
		hdrs[nh++] = ctype_hdr;
	}
	if (s->token_hdr)
		hdrs[nh++] = s->token_hdr;
	hdrs[nh] = NULL;

	char *url = s3_object_url(s, key, query);
	struct http_request req = {
		.method = method,
		.url = url,
		.headers = hdrs,
		.body_fd = b ? b->fd : -1,
		.body_off = b ? b->off : 0,
		.body_len = len,
		.body_buf = b && b->fd < 0 ? b->buf : NULL,
		.body_buf_len = b && b->fd < 0 ? (size_t)b->len : 0,
		.aws_sigv4 = s->sigv4,
		.aws_userpwd = s->userpwd,
		.resp_fd = -1,
		.max_body = MAX_XML_RESPONSE,
		.timeout_ms = -1,
		.low_speed_bps = LOW_SPEED_BPS,
		.low_speed_s = LOW_SPEED_S,
		.ca_file = s->ca_file,
		.cancel = s->cancel,
	};
	rc = http_request_do(s->http, &req, resp);
	err->status = resp->status;
	err->code[0] = '\0';
	if (rc == -ETIMEDOUT && len > MIN_PART)
		shrink_parts(s, len);
	if (rc < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s", resp->err);
		http_response_fini(resp);
		free(url);
		return rc;
	}
	/* CompleteMultipartUpload may answer 200 with an <Error> document. */
	bool xml_error = resp->body && strstr(resp->body, "<Error>");
	if (resp->status >= 200 && resp->status < 300 && !xml_error) {
		free(url);
		return 0;
	}
	char *code = xml_text(resp->body, "Code"), *msg = xml_text(resp->body, "Message");
	snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
	snprintf(err->msg, sizeof(err->msg), "%s %s: HTTP %ld%s%s%s%s", method, url, resp->status,
		 code ? " " : "", code ? code : "", msg ? ": " : "", msg ? msg : "");
	free(code);
	free(msg);
	free(url);
	http_response_fini(resp);
	return resp->status == 401 || resp->status == 403 ? -EACCES : -EIO;
}

static int put_single(s3_client *s, const char *key, int fd, uint64_t size, const char *ctype,
		      struct s3_error *err)
{
	struct body b = { .fd = fd, .off = 0, .len = size };
	struct http_response resp;
	int rc = s3_request(s, "PUT", key, NULL, &b, ctype, &resp, err);
	if (rc == 0)
		http_response_fini(&resp);
	return rc;
}

static bool cancelled(const s3_client *s)
{
	return s->cancel && __atomic_load_n(s->cancel, __ATOMIC_RELAXED);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Best effort: a failed abort leaves an incomplete upload the bucket's lifecycle can clean. */
static void abort_multipart(s3_client *s, const char *key, const char *qid)
{
	struct s3_error e;
	struct http_response resp;
	char *q = xasprintf("uploadId=%s", qid);
	if (s3_request(s, "DELETE", key, q, NULL, NULL, &resp, &e) == 0)
		http_response_fini(&resp);
	else
		log_warn("could not abort multipart upload", "key=%s err=%s", key, e.msg);
	free(q);
}

/* CreateMultipartUpload: the new UploadId (caller frees), or NULL with err set. */
static char *create_multipart(s3_client *s, const char *key, const char *ctype, int *rc,
			      struct s3_error *err)
{
	struct http_response resp;
	*rc = s3_request(s, "POST", key, "uploads=", &(struct body){ .fd = -1, .buf = "" }, ctype,
			 &resp, err);
	if (*rc < 0)
		return NULL;
	char *id = xml_text(resp.body, "UploadId");
	http_response_fini(&resp);
	if (!id || !*id) {
		snprintf(err->msg, sizeof(err->msg), "CreateMultipartUpload %s: no UploadId", key);
		free(id);
		*rc = -EIO;
		return NULL;
	}
	return id;
}

/* UploadPart with its own retries; the ETag (caller frees) or NULL with *rc and err set. */
static char *upload_part(s3_client *s, const char *key, const char *qid, unsigned partno, int fd,
			 uint64_t off, uint64_t len, int *rc, struct s3_error *err)
{
	struct http_response resp;
	char *etag = NULL, *q = xasprintf("partNumber=%u&uploadId=%s", partno, qid);
	for (int attempt = 1;; attempt++) {
		struct body b = { .fd = fd, .off = (off_t)off, .len = len };
		*rc = s3_request(s, "PUT", key, q, &b, NULL, &resp, err);
		if (*rc == 0) {
			etag = resp.etag ? xstrdup(resp.etag) : NULL;
			http_response_fini(&resp);
			if (!etag) {
				snprintf(err->msg, sizeof(err->msg), "UploadPart %s part %u: no ETag", key,
					 partno);
				*rc = -EIO;
			}
			break;
		}
		bool gone = strcmp(err->code, "NoSuchUpload") == 0;
		/* A timeout: the next attempt cuts the file into smaller parts. */
		if (*rc == -EACCES || *rc == -ETIMEDOUT || gone || attempt >= PART_ATTEMPTS ||
		    cancelled(s))
			break;
		log_warn("upload part failed, retrying", "key=%s part=%u attempt=%d err=%s", key, partno,
			 attempt, err->msg);
		sleep_ms(250LL << attempt);
	}
	free(q);
	return etag;
}

static int complete_multipart(s3_client *s, const char *key, const char *qid,
			      const struct mp_state *st, struct s3_error *err)
{
	struct http_response resp;
	size_t cap = 64 + (size_t)st->nparts * 160, n = 0;
	char *xml = xmalloc(cap);
	n += (size_t)snprintf(xml + n, cap - n, "<CompleteMultipartUpload>");
	for (unsigned i = 0; i < st->nparts && n < cap; i++)
		n += (size_t)snprintf(xml + n, cap - n,
				      "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>", i + 1,
				      st->etags[i]);
	n += (size_t)snprintf(xml + n, n < cap ? cap - n : 0, "</CompleteMultipartUpload>");
	char *q = xasprintf("uploadId=%s", qid);
	struct body b = { .fd = -1, .buf = xml, .len = n < cap ? n : cap - 1 };
	int rc = n < cap ? s3_request(s, "POST", key, q, &b, "application/xml", &resp, err) : -EIO;
	if (rc == 0)
		http_response_fini(&resp);
	free(q);
	free(xml);
	return rc;
}

/*
 * The state of an earlier attempt at this same file (same size, mtime and
 * cut), or false. A state for another version of the file is dropped and its
 * upload aborted.
 */
static bool resume_state(s3_client *s, const char *key, const char *resume, const struct mp_state *want,
			 struct mp_state *st)
{
	if (!resume || mpstate_load(resume, st) < 0)
		return false;
	if (st->size == want->size && st->part_size == want->part_size &&
	    st->mtime_ns == want->mtime_ns && st->nparts == want->nparts)
		return true;
	char *qid = encode_query_value(st->upload_id);
	if (st->size == want->size && st->mtime_ns == want->mtime_ns)
		log_info("parts made smaller after a timeout; starting the file over", "key=%s part_size=%llu",
			 key, (unsigned long long)want->part_size);
	else
		log_info("file changed since its multipart upload began; starting over", "key=%s", key);
	abort_multipart(s, key, qid);
	free(qid);
	unlink(resume);
	mpstate_fini(st);
	return false;
}

/* The ETag S3 gives a multipart object: md5 of the parts' binary md5s, "-", the part count. */
static bool multipart_etag(const struct mp_state *st, char *out, size_t outlen)
{
	struct md5_ctx c;
	uint8_t dg[16];
	char hex[33];
	md5_init(&c);
	for (unsigned i = 0; i < st->nparts; i++) {
		const char *e = st->etags[i];
		uint8_t bin[16];
		if (!e)
			return false;
		e += *e == '"';
		for (int k = 0; k < 16; k++) {
			unsigned v;
			if (sscanf(e + 2 * k, "%2x", &v) != 1)
				return false;
			bin[k] = (uint8_t)v;
		}
		md5_update(&c, bin, sizeof(bin));
	}
	md5_final(&c, dg);
	md5_hex(dg, hex);
	snprintf(out, outlen, "%s-%u", hex, st->nparts);
	return true;
}

/*
 * After a failed CompleteMultipartUpload: is the object already there? A
 * completion can succeed in the store and still fail for us (the agent was
 * killed before it recorded it, the answer was lost); repeating it then
 * fails forever. The object counts as ours when its size matches and its
 * ETag is either the multipart ETag of our parts or the md5 of the file
 * (some stores compute that instead).
 */
static bool object_done(s3_client *s, const char *key, int fd, uint64_t size,
			const struct mp_state *st)
{
	struct s3_error e;
	struct http_response resp;
	if (s3_request(s, "HEAD", key, NULL, NULL, NULL, &resp, &e) < 0)
		return false;
	bool ok = false;
	char want[64], md5[33];
	const char *got = resp.etag ? resp.etag + (*resp.etag == '"') : "";
	size_t glen = strcspn(got, "\"");
	if (resp.content_length >= 0 && (uint64_t)resp.content_length == size) {
		if (strchr(got, '-'))
			ok = multipart_etag(st, want, sizeof(want)) && strlen(want) == glen &&
			     strncmp(got, want, glen) == 0;
		else
			ok = md5_file(fd, md5) == 0 && glen == 32 && strncmp(got, md5, 32) == 0;
	}
	if (ok)
		log_info("multipart completion failed but the object is stored whole; done", "key=%s etag=%.*s",
			 key, (int)glen, got);
	else
		log_debug("the stored object is not this file", "key=%s size=%lld etag=%.*s", key,
			  (long long)resp.content_length, (int)glen, got);
	http_response_fini(&resp);
	return ok;
}

static int put_multipart(s3_client *s, const char *key, int fd, uint64_t size, int64_t mtime_ns,
			 const char *ctype, const char *resume, struct s3_error *err)
{
	uint64_t part = s->part_size;
	if (s->slow_part && s->slow_part < part)
		part = s->slow_part;
	if ((size + part - 1) / part > MAX_PARTS)
		part = ((size / MAX_PARTS) | ((1ull << 20) - 1)) + 1; /* round up to MiB */
	struct mp_state st, want = { .size = size, .part_size = part, .mtime_ns = mtime_ns,
				     .nparts = (unsigned)((size + part - 1) / part) };
	int rc = 0;
	bool resumed = resume_state(s, key, resume, &want, &st);
	if (resumed) {
		unsigned done = 0;
		for (unsigned i = 0; i < st.nparts; i++)
			done += st.etags[i] != NULL;
		log_info("resuming multipart upload", "key=%s parts_stored=%u parts=%u", key, done,
			 st.nparts);
	} else {
		st = want;
		st.upload_id = create_multipart(s, key, ctype, &rc, err);
		if (!st.upload_id)
			return rc;
		st.etags = xcalloc(st.nparts, sizeof(char *));
		if (resume && (rc = mpstate_begin(resume, &st)) < 0) {
			log_warn("cannot record multipart state; an interruption restarts this file",
				 "key=%s state=%s err=%s", key, resume, strerror(-rc));
			resume = NULL;
		}
		rc = 0;
	}
	char *qid = encode_query_value(st.upload_id);
	for (unsigned i = 0; i < st.nparts && rc == 0; i++) {
		if (st.etags[i])
			continue;
		uint64_t off = (uint64_t)i * part, len = size - off < part ? size - off : part;
		st.etags[i] = upload_part(s, key, qid, i + 1, fd, off, len, &rc, err);
		if (st.etags[i] && resume && mpstate_add_part(resume, i + 1, st.etags[i]) < 0)
			log_warn("cannot record an uploaded part", "key=%s part=%u", key, i + 1);
	}
	if (rc == 0) {
		rc = complete_multipart(s, key, qid, &st, err);
		if (rc < 0 && rc != -EACCES && rc != -ECANCELED && object_done(s, key, fd, size, &st))
			rc = 0;
	}
	bool gone = rc < 0 && strcmp(err->code, "NoSuchUpload") == 0;
	if (rc == 0 || gone) {
		if (resume)
			unlink(resume);
	} else if (!resume) {
		abort_multipart(s, key, qid);
	} /* else: the stored parts wait in the store for the next attempt */
	free(qid);
	mpstate_fini(&st);
	/* The store forgot a resumed upload (expired, aborted): start this file over once. */
	if (gone && resumed)
		return put_multipart(s, key, fd, size, mtime_ns, ctype, resume, err);
	return rc;
}

int s3_put_file(s3_client *s, const char *key, const char *path, const char *resume,
		struct s3_error *err)
{
	struct s3_error local;
	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err->msg, sizeof(err->msg), "open %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		snprintf(err->msg, sizeof(err->msg), "fstat %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	const char *base = strrchr(path, '/');
	const char *ctype = s3_content_type(base ? base + 1 : path);
	uint64_t size = (uint64_t)st.st_size;
	int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	uint64_t threshold = s->slow_part && s->slow_part < s->threshold ? s->slow_part : s->threshold;
	int rc = size > threshold ? put_multipart(s, key, fd, size, mtime_ns, ctype, resume, err)
				     : put_single(s, key, fd, size, ctype, err);
	close(fd);
	return rc;
}
