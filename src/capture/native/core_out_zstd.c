/* core_out (libzstd): the core streamed through a zstd compressor into core.zst. */
#include "capture/native/core_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "lib/util.h"

/* Level 1: a core is mostly zero pages and heap; speed matters more than ratio here. */
#define LEVEL (-3)

struct core_out {
	int fd;
	char *path;
	ZSTD_CCtx *cc;
	uint64_t in, disk, limit;
	void *buf;
	size_t cap;
};

const char *core_out_name(void)
{
	return "core.zst";
}

const char *core_out_format(void)
{
	return "elf-core+zstd";
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
	o->cc = ZSTD_createCCtx();
	if (!o->cc) {
		core_out_abort(o);
		return -ENOMEM;
	}
	ZSTD_CCtx_setParameter(o->cc, ZSTD_c_compressionLevel, LEVEL);
	ZSTD_CCtx_setParameter(o->cc, ZSTD_c_checksumFlag, 1);
	/* One worker compresses while this thread reads the next chunk (ignored without threads support). */
	ZSTD_CCtx_setParameter(o->cc, ZSTD_c_nbWorkers, 1);
	o->cap = ZSTD_CStreamOutSize();
	o->buf = xmalloc(o->cap);
	*out = o;
	return 0;
}

static int drain(core_out *o, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
	for (;;) {
		ZSTD_outBuffer ob = {o->buf, o->cap, 0};
		size_t left = ZSTD_compressStream2(o->cc, &ob, in, mode);
		if (ZSTD_isError(left))
			return -EIO;
		if (ob.pos) {
			if (o->limit && o->disk + ob.pos > o->limit)
				return -EFBIG;
			int rc = util_write_full(o->fd, o->buf, ob.pos);
			if (rc < 0)
				return rc;
			o->disk += ob.pos;
		}
		if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
			return 0;
	}
}

int core_out_write(core_out *o, const void *buf, size_t len)
{
	ZSTD_inBuffer in = {buf, len, 0};
	o->in += len;
	return drain(o, &in, ZSTD_e_continue);
}

uint64_t core_out_in(const core_out *o)
{
	return o->in;
}

uint64_t core_out_disk(const core_out *o)
{
	return o->disk;
}

static void release(core_out *o)
{
	ZSTD_freeCCtx(o->cc);
	free(o->buf);
	free(o->path);
	free(o);
}

int core_out_finish(core_out *o)
{
	ZSTD_inBuffer in = {NULL, 0, 0};
	int rc = drain(o, &in, ZSTD_e_end);
	if (rc == 0 && fsync(o->fd) < 0)
		rc = -errno;
	if (close(o->fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(o->path);
	release(o);
	return rc;
}

void core_out_abort(core_out *o)
{
	if (!o)
		return;
	close(o->fd);
	unlink(o->path);
	release(o);
}
