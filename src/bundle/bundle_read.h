/* bundle_read: the few fields of a written bundle's manifest.json that listings need. */
#ifndef HOUND_BUNDLE_READ_H
#define HOUND_BUNDLE_READ_H

#include <stdbool.h>
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

#endif
