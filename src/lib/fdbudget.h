/*
 * fdbudget: how many file descriptors hound may keep open for sampling.
 * Watched processes keep /proc files open (the fast path), but the process
 * also needs fds for the API, captures and uploads: a reserve is always left
 * for those. Past the budget, sampling falls back to open/read/close, and the
 * degradation is counted so status and /metrics can report it.
 */
#ifndef HOUND_FDBUDGET_H
#define HOUND_FDBUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct fdbudget_stats {
	long limit;    /* RLIMIT_NOFILE soft limit seen at init (after raising it) */
	long budget;   /* fds that may be kept for sampling */
	long reserve;  /* left for the API, captures and uploads */
	long kept;     /* kept now */
	long degraded; /* processes sampled now without kept fds */
	uint64_t refused; /* times a kept fd was refused (cumulative) */
};

/*
 * Raises the soft RLIMIT_NOFILE to the hard limit and sets the budget from
 * it. Returns the soft limit, or -errno (the budget is then set from what
 * getrlimit says, or left unlimited).
 */
long fdbudget_init(void);
/* Sets the budget from a given soft limit (tests). */
void fdbudget_set_limit(long soft_limit);

/* Takes n fds from the budget: true if they may be kept (then give them back). */
bool fdbudget_take(int n);
void fdbudget_give(int n);
/* One more / one less process sampled without kept fds. */
void fdbudget_degraded(int delta);
void fdbudget_get(struct fdbudget_stats *out);

#endif
