/* bundle_read: the few fields of a written bundle's manifest.json that listings need. */
#ifndef HOUND_BUNDLE_READ_H
#define HOUND_BUNDLE_READ_H

#include <sys/types.h>

struct bundle_summary {
	pid_t pid;
	char trigger[16];       /* rule, api, alert, manual; "" when absent */
	char finished_at[40];   /* as written in the manifest */
	int nerrors;            /* entries in "errors" */
};

/* Reads dir/manifest.json. 0, or -errno / -EINVAL for a manifest that is not JSON. */
int bundle_summary_read(const char *dir, struct bundle_summary *s);

#endif
