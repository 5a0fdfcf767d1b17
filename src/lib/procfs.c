/* procfs: pure parsers for /proc and cgroup files. */
#include "lib/procfs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A read position inside a caller's buffer; never dereferenced at end. */
struct cur {
	const char *p, *end;
};

static void skip_blanks(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n'))
		c->p++;
}

/* Digits only (no sign, no leading blanks); rejects overflow. */
static int take_u64(struct cur *c, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = c->p;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		unsigned d = (unsigned)(*c->p - '0');
		if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return -EINVAL;
		v = v * 10 + d;
		c->p++;
	}
	if (c->p == start)
		return -EINVAL;
	*out = v;
	return 0;
}

static int take_i64(struct cur *c, int64_t *out)
{
	bool neg = false;
	uint64_t v;

	if (c->p < c->end && *c->p == '-') {
		neg = true;
		c->p++;
	}
	if (take_u64(c, &v) < 0 || v > (uint64_t)INT64_MAX)
		return -EINVAL;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* A field must end at a blank, a newline or the end of the buffer. */
static bool at_field_end(const struct cur *c)
{
	return c->p == c->end || *c->p == ' ' || *c->p == '\t' || *c->p == '\n';
}

/* Skips one blank-separated token of any content. */
static int skip_field(struct cur *c)
{
	const char *start;

	skip_blanks(c);
	start = c->p;
	while (!at_field_end(c))
		c->p++;
	return c->p == start ? -EINVAL : 0;
}

static int field_u64(struct cur *c, uint64_t *out)
{
	skip_blanks(c);
	if (take_u64(c, out) < 0 || !at_field_end(c))
		return -EINVAL;
	return 0;
}

static int field_i64(struct cur *c, int64_t *out)
{
	skip_blanks(c);
	if (take_i64(c, out) < 0 || !at_field_end(c))
		return -EINVAL;
	return 0;
}

int procfs_parse_stat(const char *buf, size_t len, struct procfs_stat *out)
{
	struct cur c = {buf, buf + len};
	const char *open, *close;
	int64_t i;
	uint64_t u;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (field_i64(&c, &i) < 0 || i <= 0 || i > INT32_MAX)
		return -EINVAL;
	out->pid = (pid_t)i;
	skip_blanks(&c);
	if (c.p == c.end || *c.p != '(')
		return -EINVAL;
	open = c.p;
	/* comm may hold spaces and ')': the fields after it never do. */
	close = memrchr(open + 1, ')', (size_t)(c.end - open - 1));
	if (!close)
		return -EINVAL;
	n = (size_t)(close - open - 1);
	if (n >= sizeof(out->comm))
		n = sizeof(out->comm) - 1;
	memcpy(out->comm, open + 1, n);
	out->comm[n] = '\0';
	c.p = close + 1;

	skip_blanks(&c);
	if (c.p == c.end || *c.p < 'A' || *c.p > 'z')
		return -EINVAL;
	out->state = *c.p++;
	if (!at_field_end(&c))
		return -EINVAL;
	if (field_i64(&c, &i) < 0 || i < 0 || i > INT32_MAX) /* 4 ppid */
		return -EINVAL;
	out->ppid = (pid_t)i;
	for (int f = 5; f <= 8; f++)
		if (skip_field(&c) < 0)
			return -EINVAL;
	if (field_u64(&c, &u) < 0) /* 9 flags */
		return -EINVAL;
	out->flags = (unsigned long)u;
	for (int f = 10; f <= 13; f++)
		if (skip_field(&c) < 0)
			return -EINVAL;
	if (field_u64(&c, &out->utime) < 0 || field_u64(&c, &out->stime) < 0)
		return -EINVAL;
	for (int f = 16; f <= 19; f++)
		if (skip_field(&c) < 0)
			return -EINVAL;
	if (field_i64(&c, &i) < 0 || i < 0) /* 20 num_threads */
		return -EINVAL;
	out->num_threads = (long)i;
	if (skip_field(&c) < 0) /* 21 itrealvalue */
		return -EINVAL;
	if (field_u64(&c, &out->start_ticks) < 0) /* 22 */
		return -EINVAL;
	if (skip_field(&c) < 0) /* 23 vsize */
		return -EINVAL;
	if (field_u64(&c, &out->rss_pages) < 0) /* 24 */
		return -EINVAL;
	return 0;
}

int procfs_parse_statm(const char *buf, size_t len, struct procfs_statm *out)
{
	struct cur c = {buf, buf + len};

	if (field_u64(&c, &out->size) < 0 || field_u64(&c, &out->resident) < 0 ||
	    field_u64(&c, &out->shared) < 0)
		return -EINVAL;
	return 0;
}

/* Finds "KEY:" at the start of a line; sets c past the colon. */
static bool find_key(const char *buf, size_t len, const char *key, struct cur *c)
{
	size_t klen = strlen(key);
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if ((size_t)(eol - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ':') {
			c->p = p + klen + 1;
			c->end = eol;
			return true;
		}
		p = eol + 1;
	}
	return false;
}

int procfs_parse_status(const char *buf, size_t len, struct procfs_status *out)
{
	struct cur c;
	uint64_t r, e, t;

	memset(out, 0, sizeof(*out));
	if (!find_key(buf, len, "Uid", &c) || field_u64(&c, &r) < 0 || field_u64(&c, &e) < 0 ||
	    r > UINT32_MAX || e > UINT32_MAX)
		return -EINVAL;
	out->ruid = (uid_t)r;
	out->euid = (uid_t)e;
	if (!find_key(buf, len, "Threads", &c) || field_u64(&c, &t) < 0 || t > INT32_MAX)
		return -EINVAL;
	out->threads = (long)t;
	if (find_key(buf, len, "RssAnon", &c)) {
		skip_blanks(&c);
		if (take_u64(&c, &r) < 0 || r > UINT64_MAX / 1024)
			return -EINVAL;
		skip_blanks(&c);
		if ((size_t)(c.end - c.p) < 2 || memcmp(c.p, "kB", 2) != 0)
			return -EINVAL;
		out->rss_anon = r * 1024;
		out->has_rss_anon = true;
	}
	return 0;
}

int procfs_parse_schedstat(const char *buf, size_t len, struct procfs_schedstat *out)
{
	struct cur c = {buf, buf + len};

	if (field_u64(&c, &out->run_ns) < 0 || field_u64(&c, &out->wait_ns) < 0 ||
	    field_u64(&c, &out->slices) < 0)
		return -EINVAL;
	return 0;
}

/* A non-negative decimal like "2.37" with at most 30 characters. */
static int take_decimal(struct cur *c, double *out)
{
	char tmp[32];
	size_t n = 0;
	char *endp;

	while (c->p < c->end && ((*c->p >= '0' && *c->p <= '9') || *c->p == '.')) {
		if (n + 1 >= sizeof(tmp))
			return -EINVAL;
		tmp[n++] = *c->p++;
	}
	if (n == 0 || tmp[0] == '.')
		return -EINVAL;
	tmp[n] = '\0';
	*out = strtod(tmp, &endp);
	return *endp == '\0' ? 0 : -EINVAL;
}

int procfs_parse_psi_some_avg10(const char *buf, size_t len, double *out)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if ((size_t)(eol - p) > 5 && memcmp(p, "some ", 5) == 0) {
			struct cur c = {p + 5, eol};
			skip_blanks(&c);
			if ((size_t)(c.end - c.p) < 6 || memcmp(c.p, "avg10=", 6) != 0)
				return -EINVAL;
			c.p += 6;
			if (take_decimal(&c, out) < 0 || !at_field_end(&c))
				return -EINVAL;
			return 0;
		}
		p = eol + 1;
	}
	return -EINVAL;
}

int procfs_parse_meminfo_total(const char *buf, size_t len, uint64_t *out)
{
	struct cur c;
	uint64_t kb;

	if (!find_key(buf, len, "MemTotal", &c))
		return -EINVAL;
	skip_blanks(&c);
	if (take_u64(&c, &kb) < 0 || kb == 0 || kb > UINT64_MAX / 1024)
		return -EINVAL;
	skip_blanks(&c);
	if ((size_t)(c.end - c.p) < 2 || memcmp(c.p, "kB", 2) != 0)
		return -EINVAL;
	*out = kb * 1024;
	return 0;
}

int procfs_parse_btime(const char *buf, size_t len, int64_t *out)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if ((size_t)(eol - p) > 6 && memcmp(p, "btime ", 6) == 0) {
			struct cur c = {p + 6, eol};
			if (field_i64(&c, out) < 0 || *out <= 0)
				return -EINVAL;
			return 0;
		}
		p = eol + 1;
	}
	return -EINVAL;
}

int procfs_parse_cgroup_line(const char *line, size_t len, struct procfs_cgroup_line *out)
{
	struct cur c = {line, line + len};
	const char *colon;
	uint64_t id;

	if (len > 0 && line[len - 1] == '\n')
		c.end--;
	if (take_u64(&c, &id) < 0 || id > UINT32_MAX || c.p == c.end || *c.p != ':')
		return -EINVAL;
	c.p++;
	colon = memchr(c.p, ':', (size_t)(c.end - c.p));
	if (!colon)
		return -EINVAL;
	out->hier = (unsigned)id;
	out->controllers = c.p;
	out->controllers_len = (size_t)(colon - c.p);
	out->path = colon + 1;
	out->path_len = (size_t)(c.end - colon - 1);
	if (out->path_len == 0 || out->path[0] != '/' || memchr(out->path, '\n', out->path_len))
		return -EINVAL;
	return 0;
}

/* True when the comma-separated list holds name (also "name=systemd" style). */
static bool list_has(const char *list, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = list, *end = list + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		if ((size_t)(e - p) == nlen && memcmp(p, name, nlen) == 0)
			return true;
		p = e + 1;
	}
	return false;
}

int procfs_cgroup_find(const char *buf, size_t len, const char *controller,
		       struct procfs_cgroup_line *out)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		struct procfs_cgroup_line l;
		if (eol > p) {
			if (procfs_parse_cgroup_line(p, (size_t)(eol - p), &l) < 0)
				return -EINVAL;
			if (controller ? list_has(l.controllers, l.controllers_len, controller)
				       : (l.hier == 0 && l.controllers_len == 0)) {
				*out = l;
				return 0;
			}
		}
		p = eol + 1;
	}
	return -ENOENT;
}

int procfs_parse_cpu_max(const char *buf, size_t len, int64_t *quota_us, int64_t *period_us)
{
	struct cur c = {buf, buf + len};

	if (len >= 3 && memcmp(buf, "max", 3) == 0) {
		c.p += 3;
		if (!at_field_end(&c))
			return -EINVAL;
		*quota_us = -1;
	} else if (field_i64(&c, quota_us) < 0 || *quota_us <= 0) {
		return -EINVAL;
	}
	if (field_i64(&c, period_us) < 0 || *period_us <= 0)
		return -EINVAL;
	return 0;
}

int procfs_parse_int64(const char *buf, size_t len, int64_t *out)
{
	struct cur c = {buf, buf + len};

	if (field_i64(&c, out) < 0)
		return -EINVAL;
	skip_ws(&c);
	return c.p == c.end ? 0 : -EINVAL;
}

int procfs_parse_mem_limit(const char *buf, size_t len, uint64_t *out)
{
	struct cur c = {buf, buf + len};

	if (len >= 3 && memcmp(buf, "max", 3) == 0) {
		c.p += 3;
		*out = PROCFS_UNLIMITED;
	} else {
		if (field_u64(&c, out) < 0)
			return -EINVAL;
		if (*out >= (UINT64_C(1) << 62))
			*out = PROCFS_UNLIMITED;
	}
	skip_ws(&c);
	return c.p == c.end ? 0 : -EINVAL;
}
