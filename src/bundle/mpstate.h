/*
 * mpstate: the on-disk state of one multipart upload (its UploadId and the
 * ETags of the parts the store has), so an upload interrupted by a failure
 * or a restart goes on from the next part instead of from the first.
 */
#ifndef HOUND_MPSTATE_H
#define HOUND_MPSTATE_H

#include <stddef.h>
#include <stdint.h>

struct mp_state {
	char *upload_id;
	uint64_t size, part_size;   /* of the file, and the parts it is cut into */
	int64_t mtime_ns;           /* the file's, when the upload began */
	unsigned nparts;
	char **etags;               /* nparts entries; NULL for a part not yet stored */
};

/*
 * Parses the text of a state file (pure). A torn last line (the agent died
 * while appending) is ignored. 0, or -EINVAL for a file that is not one.
 * Free with mpstate_fini.
 */
int mpstate_parse(const char *buf, size_t len, struct mp_state *st);
/* Reads and parses path: 0, -ENOENT, -EINVAL or -errno. */
int mpstate_load(const char *path, struct mp_state *st);
/* Writes a fresh state (no parts yet) atomically: 0 or -errno. */
int mpstate_begin(const char *path, const struct mp_state *st);
/* Appends one stored part (1-based) with its ETag: 0 or -errno. */
int mpstate_add_part(const char *path, unsigned part, const char *etag);
void mpstate_fini(struct mp_state *st);

#endif
