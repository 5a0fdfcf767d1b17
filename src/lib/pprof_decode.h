/* pprof_decode: reads gzipped profile.proto files (as Go writes them) into flat arrays. */
#ifndef HOUND_PPROF_DECODE_H
#define HOUND_PPROF_DECODE_H

#include <stddef.h>
#include <stdint.h>

struct pprof_value_type {
	const char *type; /* "inuse_space" */
	const char *unit; /* "bytes" */
};

struct pprof_function {
	uint64_t id;
	const char *name;        /* "main.(*requestCache).remember" */
	const char *system_name;
	const char *filename;
	int64_t start_line;
};

/* One source line of a location; the first line of a location is the innermost (inlined) one. */
struct pprof_line {
	uint32_t func; /* index into functions[] */
	int64_t line;
};

struct pprof_location {
	uint64_t id;
	uint64_t address;
	size_t nlines;
	struct pprof_line *lines;
};

struct pprof_sample {
	size_t nlocs;
	uint32_t *locs;   /* indexes into locations[], leaf first */
	int64_t *values;  /* one per sample type */
};

/*
 * A decoded profile. Every pointer (strings included) points into storage the
 * profile owns; all of it goes away with pprof_free. Ids from the file are
 * resolved to array indexes, so users never search by id.
 */
struct pprof_profile {
	size_t nsample_types;
	struct pprof_value_type *sample_types;
	size_t nsamples;
	struct pprof_sample *samples;
	size_t nlocations;
	struct pprof_location *locations;
	size_t nfunctions;
	struct pprof_function *functions;
	size_t nstrings;
	const char **strings;
	struct pprof_value_type period_type;
	int64_t period, time_nanos, duration_nanos;
	void *mem_; /* private */
};

/*
 * Default cap on the decompressed size of a profile (real Go heap profiles
 * are a few MiB). The decoder allocates at most ~16x the decompressed size.
 */
#define PPROF_MAX_RAW ((size_t)64 << 20)

/*
 * Decodes a profile from data (gzip-compressed or raw protobuf). The
 * decompressed size may not exceed max_raw (0: PPROF_MAX_RAW). Allocation is
 * bounded by a small multiple of the decompressed size. Returns 0 and *out
 * (free with pprof_free), or -EINVAL for malformed input and -EFBIG when over
 * max_raw, with a sentence in err.
 */
int pprof_decode(const void *data, size_t len, size_t max_raw, struct pprof_profile **out,
		 char *err, size_t errlen);
/* Same for a file; -errno for I/O errors. */
int pprof_decode_file(const char *path, size_t max_raw, struct pprof_profile **out, char *err,
		      size_t errlen);
void pprof_free(struct pprof_profile *p);
/* Index of the sample type named type ("inuse_space"), or -1. */
int pprof_sample_index(const struct pprof_profile *p, const char *type);

#endif
