/* reloader: configuration loads off the sampling thread. */
#include "agent/reloader.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct reloader {
	pthread_mutex_t lock; /* guards everything below */
	pthread_t waiter, thread;
	bool running, done, pending;
	bool abandoned; /* freed while loading: the load's thread frees r */
	char *path, *pending_path;
	int rc;
	struct hound_config *nc;
	struct config_errors errs;
};

struct reloader *reloader_new(pthread_t waiter)
{
	struct reloader *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->waiter = waiter;
	return r;
}

static void destroy(struct reloader *r)
{
	config_free(r->nc);
	config_errors_fini(&r->errs);
	free(r->path);
	free(r->pending_path);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void *load_main(void *arg)
{
	struct reloader *r = arg;
	struct hound_config *nc = NULL;
	struct config_errors errs = {0};
	int rc = config_load(r->path, &nc, &errs);

	pthread_mutex_lock(&r->lock);
	r->rc = rc;
	r->nc = nc;
	r->errs = errs;
	r->done = true;
	bool abandoned = r->abandoned;
	pthread_mutex_unlock(&r->lock);
	if (abandoned)
		destroy(r);
	else
		pthread_kill(r->waiter, RELOADER_SIGNAL);
	return NULL;
}

/* Starts a load of path (taken); caller holds r->lock and no load runs. */
static int start_locked(struct reloader *r, char *path)
{
	free(r->path);
	r->path = path;
	r->done = false;
	int rc = pthread_create(&r->thread, NULL, load_main, r);
	if (rc)
		return -rc;
	r->running = true;
	return 0;
}

int reloader_request(struct reloader *r, const char *path)
{
	int rc = 0;
	pthread_mutex_lock(&r->lock);
	if (r->running) {
		free(r->pending_path);
		r->pending_path = xstrdup(path);
		r->pending = true;
	} else {
		rc = start_locked(r, xstrdup(path));
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

bool reloader_take(struct reloader *r, int *rc, struct hound_config **nc,
		   struct config_errors *errs)
{
	pthread_mutex_lock(&r->lock);
	if (!r->running || !r->done) {
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	pthread_join(r->thread, NULL);
	r->running = false;
	*rc = r->rc;
	*nc = r->nc;
	*errs = r->errs;
	r->nc = NULL;
	memset(&r->errs, 0, sizeof(r->errs));
	if (r->pending) {
		/* a SIGHUP came during this load: the file may have changed again */
		r->pending = false;
		char *p = r->pending_path;
		r->pending_path = NULL;
		if (start_locked(r, p) < 0)
			r->running = false;
	}
	pthread_mutex_unlock(&r->lock);
	return true;
}

void reloader_free(struct reloader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	if (r->running && !r->done) {
		/*
		 * A load can block for good (a FIFO, a hung network file system):
		 * never wait for it at exit. Its thread frees r when it returns.
		 */
		r->abandoned = true;
		pthread_detach(r->thread);
		pthread_mutex_unlock(&r->lock);
		return;
	}
	bool running = r->running;
	pthread_mutex_unlock(&r->lock);
	if (running)
		pthread_join(r->thread, NULL);
	destroy(r);
}
