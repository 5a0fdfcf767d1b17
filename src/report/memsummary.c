/* memsummary: what `hound report` says about memory: RSS that is not live data, and the native heap by code. */
#include "report/memsummary.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define ROLLUP_MAX (64u << 10)

/* The kB value of "Name:   123 kB" when line starts with name. */
static bool field(const char *line, const char *name, uint64_t *out)
{
	size_t n = strlen(name);

	if (strncmp(line, name, n) != 0 || line[n] != ':')
		return false;
	*out = strtoull(line + n + 1, NULL, 10);
	return true;
}

int memsummary_parse_rollup(const char *buf, size_t len, struct memsummary_rollup *out)
{
	const char *p = buf, *end = buf + len;
	bool rss = false;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[128];

		if (l >= sizeof(line))
			l = sizeof(line) - 1;
		memcpy(line, p, l);
		line[l] = 0;
		rss |= field(line, "Rss", &out->rss_kb);
		field(line, "LazyFree", &out->lazyfree_kb);
		field(line, "Anonymous", &out->anon_kb);
		p = nl ? nl + 1 : end;
	}
	return rss ? 0 : -EINVAL;
}

static void fmt_kb(uint64_t kb, char *buf, size_t len)
{
	if (kb >= 1024 * 1024)
		snprintf(buf, len, "%.1f GiB", (double)kb / (1024.0 * 1024.0));
	else if (kb >= 1024)
		snprintf(buf, len, "%.0f MiB", (double)kb / 1024.0);
	else
		snprintf(buf, len, "%llu KiB", (unsigned long long)kb);
}

int memsummary_lazyfree_line(const struct memsummary_rollup *r, char *buf, size_t len)
{
	char a[32], b[32];

	buf[0] = 0;
	if (r->lazyfree_kb < 1024 || r->lazyfree_kb * 4 < r->rss_kb)
		return 0;
	fmt_kb(r->rss_kb, a, sizeof(a));
	fmt_kb(r->lazyfree_kb, b, sizeof(b));
	snprintf(buf, len,
		 "RSS %s, %s of it LazyFree: freed pages the kernel reclaims under pressure, "
		 "not live data",
		 a, b);
	return 1;
}

int64_t memsummary_heap_released(const char *buf, size_t len)
{
	static const char key[] = "\"HeapReleased\":";
	const char *p = buf, *end = buf + len;

	while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
		char num[32];
		size_t n = 0;

		p += sizeof(key) - 1;
		while (p < end && *p == ' ')
			p++;
		while (p < end && *p >= '0' && *p <= '9' && n < sizeof(num) - 1)
			num[n++] = *p++;
		num[n] = 0;
		if (n)
			return (int64_t)strtoll(num, NULL, 10);
	}
	return -1;
}

int memsummary_print_rollup(const char *path, const char *vars_path, FILE *out)
{
	struct memsummary_rollup r;
	char *buf, line[256];
	size_t len;
	int64_t released = -1;
	int rc = util_read_file(path, &buf, &len, ROLLUP_MAX);

	if (rc < 0)
		return rc;
	rc = memsummary_parse_rollup(buf, len, &r);
	free(buf);
	if (vars_path && util_read_file(vars_path, &buf, &len, 4u << 20) == 0) {
		released = memsummary_heap_released(buf, len);
		free(buf);
	}
	if (rc == 0 && memsummary_lazyfree_line(&r, line, sizeof(line))) {
		fprintf(out, "\nmemory (smaps_rollup.txt):\n  %s", line);
		if (released >= 0)
			fprintf(out, "; the Go runtime reports %.0f MiB HeapReleased (vars.json)",
				(double)released / (1024.0 * 1024.0));
		fputc('\n', out);
	}
	return rc;
}

int memsummary_print_section(const char *path, const char *marker, FILE *out, int n)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	bool in = false;
	int shown = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!in && strncmp(line, marker, strlen(marker)) != 0)
			continue;
		in = true;
		if (!out)
			break;
		if (line[0] != '#' && shown++ >= n)
			break;
		fputs(line, out);
	}
	fclose(f);
	return in ? 0 : -ENOENT;
}
