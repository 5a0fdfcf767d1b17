/* pprof: builds profile.proto messages, gzipped, as `go tool pprof` reads them. */
#ifndef HOUND_PPROF_H
#define HOUND_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pprof_builder pprof_builder;

/* A mapped file of the profiled process. Strings are copied. */
struct pprof_map {
	uint64_t start, limit; /* runtime addresses [start, limit) */
	uint64_t offset;       /* file offset mapped at start */
	const char *file;      /* path, may be NULL */
	const char *build_id;  /* hex GNU build-id, may be NULL */
};

/* One frame of a stack, as the caller symbolized it. Strings are copied. */
struct pprof_frame {
	uint64_t address;	     /* pc as unwound */
	bool is_return;		     /* a return address: recorded as address - 1 (the call) */
	const char *function;	     /* NULL when unknown: an address-only location */
	const char *file;	     /* source file, may be NULL */
	int64_t line;		     /* 0 when unknown */
	const struct pprof_map *map; /* NULL when the address is in no file */
};

/* A sample label: a string value (str != NULL) or a number with an optional unit. */
struct pprof_label {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit;
};

/* An empty profile. Free with pprof_builder_free (NULL ok). */
pprof_builder *pprof_builder_new(void);
void pprof_builder_free(pprof_builder *b);

/* Sample types, in order; every sample carries one value per type. */
void pprof_add_sample_type(pprof_builder *b, const char *type, const char *unit);
void pprof_set_period(pprof_builder *b, const char *type, const char *unit, int64_t period);
void pprof_set_default_sample_type(pprof_builder *b, const char *type);
void pprof_set_time(pprof_builder *b, int64_t time_ns, int64_t duration_ns);
void pprof_add_comment(pprof_builder *b, const char *comment);

/*
 * Interning: each returns the id of an equal existing entry or adds one.
 * Ids are stable for the builder's life; 0 means "none" where allowed.
 */
int64_t pprof_string(pprof_builder *b, const char *s);
uint64_t pprof_mapping_id(pprof_builder *b, const struct pprof_map *m);
uint64_t pprof_function_id(pprof_builder *b, const char *name, const char *system_name,
			   const char *file, int64_t start_line);
uint64_t pprof_location_id(pprof_builder *b, const struct pprof_frame *f);

/*
 * Adds one sample: locations leaf first, exactly one value per sample type
 * (nvalues must match; returns -EINVAL otherwise), labels optional.
 */
int pprof_add_sample(pprof_builder *b, const uint64_t *locs, size_t nlocs, const int64_t *values,
		     size_t nvalues, const struct pprof_label *labels, size_t nlabels);
/* Same, from frames (leaf first): interns their locations first. */
int pprof_add_stack(pprof_builder *b, const struct pprof_frame *frames, size_t nframes,
		    const int64_t *values, size_t nvalues, const struct pprof_label *labels,
		    size_t nlabels);

size_t pprof_nsamples(const pprof_builder *b);

/* The uncompressed profile.proto bytes (malloc'd, caller frees). */
void pprof_encode(const pprof_builder *b, uint8_t **out, size_t *len);
/* gzip(profile) to path (via path.tmp + fsync + rename). 0 or -errno with err set. */
int pprof_write_file(const pprof_builder *b, const char *path, char *err, size_t errlen);

#endif
