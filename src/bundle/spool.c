/* spool: the output directory as the upload queue, with per-bundle upload state on disk. */
#include "bundle/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "lib/log.h"
#include "lib/util.h"

#define STATE_MAX (1u << 20) /* a .upload file lists a few dozen names */

static bool is_bundle_name(const char *name)
{
	size_t n = strlen(name);
	if (name[0] == '.' || n == 0)
		return false;
	return !(n >= 4 && strcmp(name + n - 4, ".tmp") == 0);
}

int64_t spool_usage(const char *output)
{
	int64_t n = util_du(output);
	return n < 0 ? 0 : n;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct spool_entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	return c ? c : strcmp(x->target, y->target);
}

int spool_list(const char *output, struct spool_entry **out, size_t *n)
{
	char root[PATH_MAX];
	*out = NULL;
	*n = 0;
	if (!util_snprintf(root, sizeof(root), "%s/bundles", output))
		return -ENAMETOOLONG;
	DIR *top = opendir(root);
	if (!top)
		return errno == ENOENT ? 0 : -errno;
	size_t cap = 0;
	struct dirent *t;
	while ((t = readdir(top))) {
		if (t->d_name[0] == '.')
			continue;
		char tdir[PATH_MAX];
		if (!util_snprintf(tdir, sizeof(tdir), "%s/%s", root, t->d_name))
			continue;
		DIR *d = opendir(tdir);
		if (!d)
			continue; /* a file, or a target dir removed meanwhile */
		struct dirent *b;
		while ((b = readdir(d))) {
			char dir[PATH_MAX], man[PATH_MAX];
			struct stat st;
			if (!is_bundle_name(b->d_name) ||
			    !util_snprintf(dir, sizeof(dir), "%s/%s", tdir, b->d_name) ||
			    !util_snprintf(man, sizeof(man), "%s/manifest.json", dir))
				continue;
			/* bundle_finish renames only after manifest.json is written */
			if (stat(man, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			if (*n == cap) {
				cap = cap ? 2 * cap : 16;
				*out = xrealloc(*out, cap * sizeof(**out));
			}
			struct spool_entry *e = &(*out)[(*n)++];
			e->target = xstrdup(t->d_name);
			e->id = xstrdup(b->d_name);
			e->dir = xstrdup(dir);
			e->state = spool_bundle_state(dir);
		}
		closedir(d);
	}
	closedir(top);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_entry);
	return 0;
}

void spool_list_free(struct spool_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].target);
		free(e[i].id);
		free(e[i].dir);
	}
	free(e);
}

void spool_state_fini(struct spool_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->done[i]);
	free(st->done);
	memset(st, 0, sizeof(*st));
}

int spool_state_load(const char *bundle_dir, struct spool_state *st)
{
	char path[PATH_MAX], *buf;
	memset(st, 0, sizeof(*st));
	if (!util_snprintf(path, sizeof(path), "%s/" SPOOL_STATE_FILE, bundle_dir))
		return -ENAMETOOLONG;
	int rc = util_read_file(path, &buf, NULL, STATE_MAX);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	size_t cap = 0;
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "complete") == 0) {
			st->complete = true;
		} else if (strncmp(line, "file ", 5) == 0 && line[5]) {
			if (st->n == cap) {
				cap = cap ? 2 * cap : 8;
				st->done = xrealloc(st->done, cap * sizeof(char *));
			}
			st->done[st->n++] = xstrdup(line + 5);
		}
	}
	free(buf);
	return 0;
}

bool spool_state_has(const struct spool_state *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->done[i], name) == 0)
			return true;
	return false;
}

int spool_state_mark(const char *bundle_dir, struct spool_state *st, const char *name,
		     bool complete)
{
	char path[PATH_MAX];
	if (!util_snprintf(path, sizeof(path), "%s/" SPOOL_STATE_FILE, bundle_dir))
		return -ENAMETOOLONG;
	if (!spool_state_has(st, name)) {
		st->done = xrealloc(st->done, (st->n + 1) * sizeof(char *));
		st->done[st->n++] = xstrdup(name);
	}
	st->complete = st->complete || complete;
	size_t len = 16;
	for (size_t i = 0; i < st->n; i++)
		len += strlen(st->done[i]) + 6;
	char *buf = xmalloc(len), *p = buf;
	for (size_t i = 0; i < st->n; i++)
		p += sprintf(p, "file %s\n", st->done[i]);
	if (st->complete)
		p += sprintf(p, "complete\n");
	int rc = util_write_file_atomic(path, buf, (size_t)(p - buf));
	free(buf);
	return rc;
}

int spool_bundle_state(const char *bundle_dir)
{
	struct spool_state st;
	if (spool_state_load(bundle_dir, &st) < 0)
		return SPOOL_PENDING;
	int s = st.complete ? SPOOL_UPLOADED : st.n ? SPOOL_PARTIAL : SPOOL_PENDING;
	spool_state_fini(&st);
	return s;
}

static int cmp_name(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	bool mx = strcmp(x, "manifest.json") == 0, my = strcmp(y, "manifest.json") == 0;
	if (mx != my)
		return mx ? 1 : -1;
	return strcmp(x, y);
}

int spool_bundle_files(const char *bundle_dir, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	DIR *d = opendir(bundle_dir);
	if (!d)
		return -errno;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || strchr(de->d_name, '\n') ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*names = xrealloc(*names, cap * sizeof(char *));
		}
		(*names)[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof(char *), cmp_name);
	return 0;
}

/* When the bundle's upload completed (mtime of its final state file), or -1. */
static int64_t uploaded_at_ms(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	if (!util_snprintf(path, sizeof(path), "%s/" SPOOL_STATE_FILE, dir) || stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

static void remove_bundle(const struct spool_entry *e, const char *why)
{
	int rc = util_rm_rf(e->dir);
	if (rc < 0)
		log_warn("cannot remove uploaded bundle", "dir=%s err=%s", e->dir, strerror(-rc));
	else
		log_info("removed uploaded bundle", "target=%s id=%s reason=%s", e->target, e->id,
			 why);
}

uint64_t spool_min_free(uint64_t fs_bytes)
{
	uint64_t want = fs_bytes / 100;
	if (want < SPOOL_MIN_FREE_LOW)
		want = SPOOL_MIN_FREE_LOW;
	return want > SPOOL_MIN_FREE_HIGH ? SPOOL_MIN_FREE_HIGH : want;
}

/* Bytes available to us on output's filesystem and its size, or -1 when unknown. */
static int64_t fs_avail(const char *output, uint64_t *size)
{
	struct statvfs vfs;
	*size = 0;
	if (statvfs(output, &vfs) < 0)
		return -1;
	*size = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	return (int64_t)((uint64_t)vfs.f_bavail * vfs.f_frsize);
}

int spool_admit(const char *output, uint64_t max_disk, bool upload_enabled, int64_t *avail)
{
	UNUSED(upload_enabled); /* uploaded bundles are safe to drop either way */
	uint64_t fs_size;
	int64_t free_b = fs_avail(output, &fs_size);
	bool short_fs = free_b >= 0 && (uint64_t)free_b < spool_min_free(fs_size);
	int64_t used = max_disk ? spool_usage(output) : 0;
	bool over = max_disk && (uint64_t)used >= max_disk;
	if (over || short_fs) {
		struct spool_entry *e;
		size_t n;
		if (spool_list(output, &e, &n) == 0) {
			for (size_t i = 0; i < n && (over || short_fs); i++) {
				if (e[i].state != SPOOL_UPLOADED)
					continue;
				remove_bundle(&e[i], over ? "max_disk" : "disk_full");
				if (max_disk)
					used = spool_usage(output);
				over = max_disk && (uint64_t)used >= max_disk;
				free_b = fs_avail(output, &fs_size);
				short_fs = free_b >= 0 && (uint64_t)free_b < spool_min_free(fs_size);
			}
			spool_list_free(e, n);
		}
	}
	if (avail)
		*avail = free_b;
	return over ? -EDQUOT : short_fs ? -ENOSPC : 0;
}

void spool_expire(const char *output, int64_t keep_local_ms)
{
	struct spool_entry *e;
	size_t n;
	if (keep_local_ms < 0 || spool_list(output, &e, &n) < 0)
		return;
	int64_t now = util_wall_ms();
	for (size_t i = 0; i < n; i++) {
		if (e[i].state != SPOOL_UPLOADED)
			continue;
		int64_t at = uploaded_at_ms(e[i].dir);
		if (at >= 0 && now - at >= keep_local_ms)
			remove_bundle(&e[i], "keep_local");
	}
	spool_list_free(e, n);
}
