/* s3_upload: files into the store: one PUT, or a multipart upload that survives failures and restarts. */
#include "bundle/s3_int.h"

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
#include "lib/util.h"

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
	char *id = s3_xml_text(resp.body, "UploadId");
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
	char *qid = s3_encode_query_value(st->upload_id);
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
	char *qid = s3_encode_query_value(st.upload_id);
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
