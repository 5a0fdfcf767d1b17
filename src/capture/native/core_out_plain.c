/* core_out (no libzstd): the core written as a plain ELF file. */
#include "capture/native/core_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/util.h"

struct core_out {
	int fd;
	char *path;
	uint64_t in, limit;
};

const char *core_out_name(void)
{
	return "core";
}

const char *core_out_format(void)
{
	return "elf-core";
}

int core_out_open(const char *path, uint64_t limit, core_out **out)
{
	core_out *o = xcalloc(1, sizeof(*o));
	o->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (o->fd < 0) {
		int e = errno;
		free(o);
		return -e;
	}
	o->path = xstrdup(path);
	o->limit = limit;
	*out = o;
	return 0;
}

int core_out_write(core_out *o, const void *buf, size_t len)
{
	if (o->limit && o->in + len > o->limit)
		return -EFBIG;
	int rc = util_write_full(o->fd, buf, len);
	if (rc == 0)
		o->in += len;
	return rc;
}

uint64_t core_out_in(const core_out *o)
{
	return o->in;
}

uint64_t core_out_disk(const core_out *o)
{
	return o->in;
}

int core_out_finish(core_out *o)
{
	int rc = fsync(o->fd) < 0 ? -errno : 0;
	if (close(o->fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(o->path);
	free(o->path);
	free(o);
	return rc;
}

void core_out_abort(core_out *o)
{
	if (!o)
		return;
	close(o->fd);
	unlink(o->path);
	free(o->path);
	free(o);
}
