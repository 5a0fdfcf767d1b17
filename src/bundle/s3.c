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

#include "bundle/s3_int.h"
#include "lib/http_client.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/util.h"

#define MAX_XML_RESPONSE (1u << 20) /* S3 answers are small XML documents */
/*
 * No total deadline, which a slow link cannot meet however healthy: a
 * request is abandoned only when less than LOW_SPEED_BPS move for
 * LOW_SPEED_S seconds (a stalled connection or a store that stopped answering).
 */
#define LOW_SPEED_BPS 1024L
#define LOW_SPEED_S 30L


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
char *s3_xml_text(const char *xml, const char *tag)
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
char *s3_encode_query_value(const char *v)
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
int s3_request(s3_client *s, const char *method, const char *key, const char *query,
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
	char *code = s3_xml_text(resp->body, "Code"), *msg = s3_xml_text(resp->body, "Message");
	snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
	snprintf(err->msg, sizeof(err->msg), "%s %s: HTTP %ld%s%s%s%s", method, url, resp->status,
		 code ? " " : "", code ? code : "", msg ? ": " : "", msg ? msg : "");
	free(code);
	free(msg);
	free(url);
	http_response_fini(resp);
	return resp->status == 401 || resp->status == 403 ? -EACCES : -EIO;
}
