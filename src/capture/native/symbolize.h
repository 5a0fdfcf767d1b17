/* symbolize: program counters of a process to module, function and source line (elfutils libdw). */
#ifndef HOUND_SYMBOLIZE_H
#define HOUND_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One line of /proc/PID/maps. */
struct sym_map {
	uint64_t start, limit, offset; /* [start, limit) mapped from file offset */
	uint64_t inode;
	char perms[5];	   /* "r-xp" */
	char *path;	   /* "" for anonymous memory, "[vdso]", ... */
	char build_id[41]; /* hex GNU build-id once resolved, "" when none */
	void *mod_;	   /* private: the cached module */
	bool resolved_;
};

/* A symbolized frame. Strings belong to the sym_proc that filled it. */
struct sym_frame {
	uint64_t pc;		   /* as unwound */
	uint64_t lookup_pc;	   /* pc, or pc - 1 for a return address */
	const struct sym_map *map; /* NULL when pc is in no mapping */
	uint64_t file_offset;	   /* lookup_pc as an offset into map->path */
	/*
	 * The symbol; for stripped code without a debug file, the function named
	 * by its start (cfi_function, below); NULL when neither is known.
	 */
	const char *function;
	uint64_t function_offset;  /* lookup_pc - symbol (or function) start */
	const char *file;	   /* source file, NULL without debug info */
	int line;		   /* 0 when unknown */
	/*
	 * Without a symbol: the function identified by its start in the module's
	 * unwind table (.eh_frame, which even stripped binaries keep), as
	 * "module+0xSTART" (link-time address), so every instruction of one
	 * function gets one name; function then points to the same string.
	 * NULL when there is a symbol or no entry covers pc.
	 */
	const char *cfi_function;
	uint64_t cfi_start;	   /* START above */
};

/*
 * Parses /proc/PID/maps text (pure). Returns 0 and a malloc'd array (free with
 * sym_maps_free), or -EINVAL for a line it cannot read.
 */
int sym_parse_maps(const char *buf, size_t len, struct sym_map **out, size_t *n);
void sym_maps_free(struct sym_map *maps, size_t n);

typedef struct symbolizer symbolizer;

/*
 * The module cache: one entry per ELF file, keyed by build-id (and by file
 * identity, so a hit costs one stat). Names come from .symtab/.dynsym of the
 * file or of its separate debug file (/usr/lib/debug/.build-id/xx/yyyy.debug,
 * .gnu_debuglink), lines from DWARF. At most max_modules unused entries are
 * kept. Thread-safe. Free with symbolizer_free (NULL ok).
 */
symbolizer *symbolizer_new(size_t max_modules);
void symbolizer_free(symbolizer *z);
/* The process-wide cache (created on first use, lives until exit). */
symbolizer *symbolizer_shared(void);

typedef struct sym_proc sym_proc;

/*
 * Also look up source file:line (DWARF). The first line lookup in a module
 * reads (and, for Debian's compressed debug files, inflates) its line tables:
 * tens of ms for libc, so ask for it where the time is well spent.
 */
#define SYM_LINES 1u

/*
 * A view of one process: its maps (read now from /proc/PID/maps), the frames
 * already looked up and the strings they point to. Files are opened through
 * /proc/PID/root, so a target in another mount namespace resolves too.
 * sym_proc_open looks up lines too; sym_proc_open_flags takes SYM_LINES or 0.
 * Returns 0, or -errno with a sentence in err (the PID and the failing call).
 * Free with sym_proc_free. One thread at a time.
 */
int sym_proc_open(symbolizer *z, pid_t pid, sym_proc **out, char *err, size_t errlen);
int sym_proc_open_flags(symbolizer *z, pid_t pid, unsigned flags, sym_proc **out, char *err,
			size_t errlen);
void sym_proc_free(sym_proc *p);
/* Re-reads /proc/PID/maps (after a dlopen); returns 0 or -errno. */
int sym_proc_reload(sym_proc *p, char *err, size_t errlen);
const struct sym_map *sym_proc_maps(const sym_proc *p, size_t *n);

/*
 * Symbolizes pc; is_return says pc is a return address, so the call
 * instruction (pc - 1) is looked up. Never fails: unknown parts stay NULL.
 */
void sym_proc_lookup(sym_proc *p, uint64_t pc, bool is_return, struct sym_frame *out);

/* The name to group by (function), NULL when unknown. */
const char *sym_frame_name(const struct sym_frame *f);

/* Short module name for display: the basename of map->path, or "?". */
const char *sym_module_basename(const struct sym_map *m);

#endif
