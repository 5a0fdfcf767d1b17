/* fdbudget: the budget of kept file descriptors, with a reserve. */
#include "lib/fdbudget.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/resource.h>

/* Kept for everything but sampling: a quarter of the limit, within these bounds. */
#define RESERVE_MIN 64
#define RESERVE_MAX 4096

static atomic_long limit_seen = -1, budget = LONG_MAX, reserve_fds, kept, degraded;
static atomic_ullong refused;

void fdbudget_set_limit(long soft)
{
	long r = soft / 4;
	if (r < RESERVE_MIN)
		r = RESERVE_MIN;
	if (r > RESERVE_MAX)
		r = RESERVE_MAX;
	limit_seen = soft;
	reserve_fds = r;
	budget = soft > r ? soft - r : 0;
}

long fdbudget_init(void)
{
	struct rlimit rl;
	long rc;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	rc = 0;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = {rl.rlim_max, rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
		else
			rc = -errno;
	}
	long soft = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > LONG_MAX ? LONG_MAX
									       : (long)rl.rlim_cur;
	fdbudget_set_limit(soft);
	return rc < 0 ? rc : soft;
}

bool fdbudget_take(int n)
{
	long now = atomic_fetch_add(&kept, n) + n;
	if (now <= budget)
		return true;
	atomic_fetch_sub(&kept, n);
	refused++;
	return false;
}

void fdbudget_give(int n)
{
	atomic_fetch_sub(&kept, n);
}

void fdbudget_degraded(int delta)
{
	atomic_fetch_add(&degraded, delta);
}

void fdbudget_get(struct fdbudget_stats *out)
{
	out->limit = limit_seen;
	out->budget = budget;
	out->reserve = reserve_fds;
	out->kept = kept;
	out->degraded = degraded;
	out->refused = refused;
}
