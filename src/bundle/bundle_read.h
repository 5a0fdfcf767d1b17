/* bundle_read: the few fields of a written bundle's manifest.json that listings need. */
#ifndef HOUND_BUNDLE_READ_H
#define HOUND_BUNDLE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct bundle_summary {
	pid_t pid;
	char trigger[16];       /* rule, api, alert, manual; "" when absent */
	char finished_at[40];   /* as written in the manifest */
	int nerrors;            /* entries in "errors" */
};

/* Reads dir/manifest.json. 0, or -errno / -EINVAL for a manifest that is not JSON. */
int bundle_summary_read(const char *dir, struct bundle_summary *s);

/*
 * True when name can only be a plain file of a bundle directory (and id a
 * bundle directory): 1..200 characters of [A-Za-z0-9._-], not starting with a
 * dot. Used on every name that comes from a manifest or a request before it
 * is joined to a path, so none can reach outside the bundle.
 */
bool bundle_name_ok(const char *name);

/*
 * Reads dir/manifest.json (at most 4 MiB) and checks it is a JSON object.
 * Returns 0 with the text in *text (malloc'd, NUL-terminated, caller frees)
 * and its length in *len, or -errno / -EFBIG / -EINVAL.
 */
int bundle_manifest_text(const char *dir, char **text, size_t *len);

/*
 * True when name is manifest.json or is listed in the "files" of the
 * manifest text (len bytes), and is a plain name (bundle_name_ok).
 */
bool bundle_manifest_lists(const char *text, size_t len, const char *name);

#endif
