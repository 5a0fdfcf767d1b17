/* mpstate: the on-disk state of one multipart upload (see mpstate.h). */
#include "bundle/mpstate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

#define MAGIC "hound-multipart 1"
#define MAX_PARTS 10000 /* S3's limit */

void mpstate_fini(struct mp_state *st)
{
	if (!st)
		return;
	for (unsigned i = 0; st->etags && i < st->nparts; i++)
		free(st->etags[i]);
	free(st->etags);
	free(st->upload_id);
	memset(st, 0, sizeof(*st));
}

/* One "key value" line; a string value runs to the end of the line. */
static int parse_line(const char *line, struct mp_state *st)
{
	unsigned long long u;
	long long ll;
	unsigned part;
	int n = 0;

	if (util_str_has_prefix(line, "upload_id ") && line[10]) {
		free(st->upload_id);
		st->upload_id = xstrdup(line + 10);
	} else if (sscanf(line, "size %llu", &u) == 1) {
		st->size = u;
	} else if (sscanf(line, "part_size %llu", &u) == 1) {
		st->part_size = u;
	} else if (sscanf(line, "mtime_ns %lld", &ll) == 1) {
		st->mtime_ns = ll;
	} else if (util_str_has_prefix(line, "etag ") && sscanf(line + 5, "%u %n", &part, &n) == 1 &&
		   n > 0 && line[5 + n]) {
		if (!st->etags || part < 1 || part > st->nparts)
			return -EINVAL;
		free(st->etags[part - 1]);
		st->etags[part - 1] = xstrdup(line + 5 + n);
	} else {
		return -EINVAL;
	}
	/* the part count follows from size and part size, once both are known */
	if (!st->etags && st->size && st->part_size) {
		uint64_t np = (st->size + st->part_size - 1) / st->part_size;
		if (np > MAX_PARTS)
			return -EINVAL;
		st->nparts = (unsigned)np;
		st->etags = xcalloc(st->nparts, sizeof(char *));
	}
	return 0;
}

int mpstate_parse(const char *buf, size_t len, struct mp_state *st)
{
	memset(st, 0, sizeof(*st));
	size_t ml = strlen(MAGIC);
	if (len < ml + 1 || memcmp(buf, MAGIC, ml) != 0 || buf[ml] != '\n')
		return -EINVAL;
	size_t pos = ml + 1;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			break; /* torn append: the part it named is simply sent again */
		size_t ll = (size_t)(nl - (buf + pos));
		char line[1024];
		if (ll >= sizeof(line) || memchr(buf + pos, '\0', ll)) {
			mpstate_fini(st);
			return -EINVAL;
		}
		memcpy(line, buf + pos, ll);
		line[ll] = '\0';
		pos += ll + 1;
		if (ll && parse_line(line, st) < 0) {
			mpstate_fini(st);
			return -EINVAL;
		}
	}
	if (!st->upload_id || !st->etags) {
		mpstate_fini(st);
		return -EINVAL;
	}
	return 0;
}

int mpstate_load(const char *path, struct mp_state *st)
{
	char *buf = NULL;
	size_t len = 0;
	memset(st, 0, sizeof(*st));
	int rc = util_read_file(path, &buf, &len, 4 << 20);
	if (rc == 0)
		rc = mpstate_parse(buf, len, st);
	free(buf);
	return rc;
}

int mpstate_begin(const char *path, const struct mp_state *st)
{
	char *text = xasprintf(MAGIC "\nupload_id %s\nsize %" PRIu64 "\npart_size %" PRIu64
			       "\nmtime_ns %" PRId64 "\n",
			       st->upload_id, st->size, st->part_size, st->mtime_ns);
	int rc = util_write_file_atomic(path, text, strlen(text));
	free(text);
	return rc;
}

int mpstate_add_part(const char *path, unsigned part, const char *etag)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char line[1024];
	int n = snprintf(line, sizeof(line), "etag %u %s\n", part, etag);
	int rc = 0;
	if (n < 0 || (size_t)n >= sizeof(line))
		rc = -ENAMETOOLONG;
	else if (write(fd, line, (size_t)n) != n)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}
