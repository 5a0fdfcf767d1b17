/* bundle_read: the few fields of a written bundle's manifest.json that listings need. */
#include "bundle/bundle_read.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"

/* Manifests are small; a bigger file is not one hound wrote. */
#define MANIFEST_MAX_BYTES (4u << 20)

static void copy_str(char *dst, size_t len, json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int bundle_summary_read(const char *dir, struct bundle_summary *s)
{
	char path[PATH_MAX];
	memset(s, 0, sizeof(*s));
	if (!util_snprintf(path, sizeof(path), "%s/manifest.json", dir))
		return -ENAMETOOLONG;
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || st.st_size > MANIFEST_MAX_BYTES) {
		fclose(f);
		return -EFBIG;
	}
	json_error_t jerr;
	json_t *m = json_loadf(f, 0, &jerr);
	fclose(f);
	if (!m || !json_is_object(m)) {
		json_decref(m);
		return -EINVAL;
	}
	json_t *pid = json_object_get(json_object_get(m, "process"), "pid");
	s->pid = json_is_integer(pid) ? (pid_t)json_integer_value(pid) : 0;
	copy_str(s->trigger, sizeof(s->trigger), json_object_get(json_object_get(m, "trigger"), "kind"));
	copy_str(s->finished_at, sizeof(s->finished_at), json_object_get(m, "finished_at"));
	s->nerrors = (int)json_object_size(json_object_get(m, "errors"));
	json_decref(m);
	return 0;
}

bool bundle_name_ok(const char *name)
{
	size_t n = 0;
	if (!name || name[0] == '.' || name[0] == '\0')
		return false;
	for (; name[n]; n++) {
		char c = name[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-';
		if (!ok || n >= 200)
			return false;
	}
	return true;
}

int bundle_manifest_text(const char *dir, char **text, size_t *len)
{
	char path[PATH_MAX];
	if (!util_snprintf(path, sizeof(path), "%s/manifest.json", dir))
		return -ENAMETOOLONG;
	int rc = util_read_file(path, text, len, MANIFEST_MAX_BYTES);
	if (rc < 0)
		return rc;
	json_t *m = json_loadb(*text, *len, 0, NULL);
	bool ok = json_is_object(m);
	json_decref(m);
	if (!ok) {
		free(*text);
		*text = NULL;
		return -EINVAL;
	}
	return 0;
}

bool bundle_manifest_lists(const char *text, size_t len, const char *name)
{
	if (!bundle_name_ok(name))
		return false;
	if (!strcmp(name, "manifest.json"))
		return true;
	json_t *m = json_loadb(text, len, 0, NULL), *f;
	size_t i;
	bool found = false;
	json_array_foreach(json_object_get(m, "files"), i, f) {
		const char *n = json_string_value(json_object_get(f, "name"));
		if (n && !strcmp(n, name)) {
			found = true;
			break;
		}
	}
	json_decref(m);
	return found;
}
