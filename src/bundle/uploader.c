/*
 * uploader: a thread that drains the spool into the object store, retrying
 * forever. Each bundle backs off on its own: one the store keeps refusing
 * never holds back the bundles behind it.
 */
#include "bundle/uploader.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle/s3.h"
#include "bundle/spool.h"
#include "config/config.h"
#include "lib/log.h"
#include "lib/util.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS 30000
#define RESCAN_MS 10000      /* look at the spool this often even without a kick */
#define EXPIRE_EVERY_MS 60000

/* A bundle that failed recently: when it may be tried again. */
struct retry {
	char *dir;
	unsigned failures;
	int64_t next_mono_ms;
	int last;                /* enum outcome of the last attempt */
};

struct uploader {
	char *output;
	char *prefix;
	int64_t keep_local_ms;
	s3_client *s3;
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* wakes the worker: kick, stop */
	pthread_cond_t done_cv;  /* the worker has exited */
	bool kicked, stopping, exited;
	int64_t deadline_ms;     /* mono ms; valid while stopping */
	int cancel;              /* atomically set at the deadline: aborts a transfer */
	struct uploader_stats st;
	unsigned seed;
	struct retry *retry;     /* worker thread only */
	size_t nretry;
};

/*
 * How one attempt at a file ended. UP_RETRY: this bundle failed (a 5xx, a
 * refused file); UP_DOWN: the store as a whole failed (no answer, refused
 * credentials), so trying the next bundle now would fail the same way.
 */
enum outcome { UP_OK, UP_SKIP, UP_RETRY, UP_DOWN, UP_CANCEL }; /* worst last */

int uploader_new(const struct hound_config *cfg, uploader **out)
{
	*out = NULL;
	if (!cfg->upload.enabled)
		return 0;
	uploader *u = xcalloc(1, sizeof(*u));
	int rc = s3_client_new(&cfg->upload.s3, &u->s3);
	if (rc < 0) {
		free(u);
		return rc;
	}
	s3_client_set_cancel(u->s3, &u->cancel);
	u->output = xstrdup(cfg->output);
	u->prefix = xstrdup(cfg->upload.s3.prefix ? cfg->upload.s3.prefix : "");
	u->keep_local_ms = cfg->upload.keep_local_ms;
	pthread_mutex_init(&u->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->cv, &ca);
	pthread_cond_init(&u->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	u->seed = (unsigned)util_mono_ns() ^ (unsigned)getpid();
	*out = u;
	return 0;
}

static void wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t mono_ms)
{
	struct timespec ts = { mono_ms / 1000, (mono_ms % 1000) * 1000000 };
	pthread_cond_timedwait(cv, mu, &ts);
}

/* Full-ish jitter: a delay in [d/2, d] with d = base * 2^(failures-1), capped. */
static int64_t backoff_ms(uploader *u, unsigned failures)
{
	int64_t d = BACKOFF_BASE_MS;
	for (unsigned i = 1; i < failures && d < BACKOFF_CAP_MS; i++)
		d *= 2;
	if (d > BACKOFF_CAP_MS)
		d = BACKOFF_CAP_MS;
	return d / 2 + (int64_t)(rand_r(&u->seed) % (unsigned)(d / 2 + 1));
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void count(uploader *u, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&u->mu);
	*field += n;
	pthread_mutex_unlock(&u->mu);
}

static enum outcome classify(uploader *u, const struct spool_entry *e, const char *key, int rc,
			     const struct s3_error *err)
{
	if (rc == -ECANCELED)
		return UP_CANCEL;
	count(u, &u->st.upload_errors, 1);
	if (rc == -EACCES && err->status) {
		count(u, &u->st.auth_errors, 1);
		log_error("object store refused the credentials: bundle kept, will retry",
			  "target=%s id=%s key=%s status=%ld code=%s err=%s", e->target, e->id, key,
			  err->status, err->code, err->msg);
		return UP_DOWN;
	}
	if (err->status >= 400 && err->status < 500 && err->status != 408 && err->status != 429) {
		log_error("object store rejected a file: bundle kept, will retry later",
			  "target=%s id=%s key=%s status=%ld code=%s err=%s", e->target, e->id, key,
			  err->status, err->code, err->msg);
		return UP_SKIP;
	}
	log_warn("upload failed, will retry", "target=%s id=%s key=%s status=%ld err=%s",
		 e->target, e->id, key, err->status, err->msg);
	return err->status == 0 ? UP_DOWN : UP_RETRY;
}

/* Uploads what is missing of one bundle, manifest.json last. */
static enum outcome upload_bundle(uploader *u, const struct spool_entry *e)
{
	struct spool_state st;
	char **names = NULL;
	size_t n = 0;
	enum outcome out = UP_OK;
	int64_t t0 = util_mono_ms();
	uint64_t sent = 0;

	int rc = spool_state_load(e->dir, &st);
	if (rc == 0)
		rc = spool_bundle_files(e->dir, &names, &n);
	if (rc < 0) {
		if (rc != -ENOENT) /* ENOENT: the bundle was evicted meanwhile */
			log_warn("cannot read bundle", "dir=%s err=%s", e->dir, strerror(-rc));
		spool_state_fini(&st);
		return rc == -ENOENT ? UP_OK : UP_SKIP;
	}
	for (size_t i = 0; i < n && out == UP_OK; i++) {
		if (spool_state_has(&st, names[i]))
			continue;
		char path[PATH_MAX];
		util_snprintf(path, sizeof(path), "%s/%s", e->dir, names[i]);
		char *key = xasprintf("%s%s/%s/%s", u->prefix, e->target, e->id, names[i]);
		uint64_t size = file_size(path);
		struct s3_error err;
		char resume[PATH_MAX];
		util_snprintf(resume, sizeof(resume), "%s/" SPOOL_MULTIPART_PREFIX "%s", e->dir, names[i]);
		rc = s3_put_file(u->s3, key, path, resume, &err);
		if (rc == 0) {
			bool last = strcmp(names[i], "manifest.json") == 0;
			rc = spool_state_mark(e->dir, &st, names[i], last);
			if (rc < 0)
				log_warn("cannot record upload state", "dir=%s err=%s", e->dir,
					 strerror(-rc));
			sent += size;
			pthread_mutex_lock(&u->mu);
			u->st.uploaded_bytes += size;
			u->st.pending_bytes -= size < u->st.pending_bytes ? size : u->st.pending_bytes;
			pthread_mutex_unlock(&u->mu);
		} else if (rc == -ENOENT && err.status == 0) {
			out = UP_OK; /* file or bundle removed while we worked: nothing to send */
		} else {
			out = classify(u, e, key, rc, &err);
		}
		free(key);
	}
	if (out == UP_OK && st.complete) {
		pthread_mutex_lock(&u->mu);
		u->st.uploaded_bundles++;
		if (u->st.pending_bundles)
			u->st.pending_bundles--;
		u->st.last_success_wall_ms = util_wall_ms();
		pthread_mutex_unlock(&u->mu);
		log_info("bundle uploaded", "target=%s id=%s bytes=%llu ms=%lld", e->target, e->id,
			 (unsigned long long)sent, (long long)(util_mono_ms() - t0));
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	spool_state_fini(&st);
	return out;
}

/* Bytes of the files of a bundle not yet uploaded. */
static uint64_t pending_bytes(const struct spool_entry *e)
{
	struct spool_state st;
	char **names;
	size_t n;
	uint64_t total = 0;
	if (spool_state_load(e->dir, &st) < 0)
		return 0;
	if (spool_bundle_files(e->dir, &names, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			char path[PATH_MAX];
			if (!spool_state_has(&st, names[i]) &&
			    util_snprintf(path, sizeof(path), "%s/%s", e->dir, names[i]))
				total += file_size(path);
			free(names[i]);
		}
		free(names);
	}
	spool_state_fini(&st);
	return total;
}

static struct retry *retry_find(uploader *u, const char *dir)
{
	for (size_t i = 0; i < u->nretry; i++)
		if (strcmp(u->retry[i].dir, dir) == 0)
			return &u->retry[i];
	return NULL;
}

static void retry_drop(uploader *u, struct retry *r)
{
	free(r->dir);
	*r = u->retry[--u->nretry];
}

/* Forgets bundles no longer waiting in the spool (uploaded, evicted). */
static void retry_prune(uploader *u, const struct spool_entry *e, size_t n)
{
	for (size_t i = 0; i < u->nretry;) {
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = e[k].state != SPOOL_UPLOADED && strcmp(e[k].dir, u->retry[i].dir) == 0;
		if (found)
			i++;
		else
			retry_drop(u, &u->retry[i]);
	}
}

/* Records one more failure (o) of the bundle at dir; returns when it may be tried again. */
static int64_t retry_fail(uploader *u, const char *dir, enum outcome o, int64_t now)
{
	struct retry *r = retry_find(u, dir);
	if (!r) {
		u->retry = xrealloc(u->retry, (u->nretry + 1) * sizeof(*u->retry));
		r = &u->retry[u->nretry++];
		*r = (struct retry){ .dir = xstrdup(dir) };
	}
	r->failures++;
	r->last = o;
	r->next_mono_ms = now + backoff_ms(u, r->failures);
	return r->next_mono_ms;
}

/*
 * One pass over the spool: every bundle not backing off, oldest first. A
 * bundle that fails gets its own backoff and the pass goes on with the next;
 * a failure of the store itself (UP_DOWN) ends the pass. *next_ms is set to
 * the earliest time a backed-off bundle becomes ready (INT64_MAX: none).
 */
static enum outcome upload_pass(uploader *u, int64_t *next_ms)
{
	*next_ms = INT64_MAX;
	struct spool_entry *e;
	size_t n;
	int rc = spool_list(u->output, &e, &n);
	if (rc < 0) {
		log_warn("cannot list the spool", "output=%s err=%s", u->output, strerror(-rc));
		return UP_RETRY;
	}
	uint64_t pb = 0, pbytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].state != SPOOL_UPLOADED) {
			pb++;
			pbytes += pending_bytes(&e[i]);
		}
	}
	pthread_mutex_lock(&u->mu);
	u->st.pending_bundles = pb;
	u->st.pending_bytes = pbytes;
	pthread_mutex_unlock(&u->mu);

	retry_prune(u, e, n);

	enum outcome out = UP_OK;
	for (size_t i = 0; i < n && out != UP_DOWN && out != UP_CANCEL; i++) {
		if (e[i].state == SPOOL_UPLOADED)
			continue;
		struct retry *r = retry_find(u, e[i].dir);
		int64_t now = util_mono_ms();
		if (r && r->next_mono_ms > now) {
			if (r->next_mono_ms < *next_ms)
				*next_ms = r->next_mono_ms;
			if ((int)out < r->last) /* still waiting counts as its last outcome */
				out = (enum outcome)r->last;
			continue;
		}
		enum outcome o = upload_bundle(u, &e[i]);
		if (o == UP_OK) {
			if (r)
				retry_drop(u, r);
			continue;
		}
		if (o == UP_RETRY || o == UP_SKIP) {
			int64_t at = retry_fail(u, e[i].dir, o, util_mono_ms());
			if (at < *next_ms)
				*next_ms = at;
		}
		if (o > out)
			out = o;
	}
	spool_list_free(e, n);
	return out;
}

static void *worker(void *arg)
{
	uploader *u = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals belong to the main loop */
	unsigned failures = 0;
	int64_t next_expire = 0;

	for (;;) {
		int64_t ready_ms;
		enum outcome o = upload_pass(u, &ready_ms);
		int64_t now = util_mono_ms();
		if (u->keep_local_ms > 0 && now >= next_expire) {
			spool_expire(u->output, u->keep_local_ms);
			next_expire = now + EXPIRE_EVERY_MS;
		}
		bool ok = o == UP_OK;
		/* The store is down: back off as a whole. Otherwise wake up for the
		 * next bundle whose own backoff ends, or to rescan. */
		failures = o == UP_DOWN ? failures + 1 : 0;
		int64_t until = o == UP_DOWN ? now + backoff_ms(u, failures) : now + RESCAN_MS;
		if (o != UP_DOWN && ready_ms < until)
			until = ready_ms;

		pthread_mutex_lock(&u->mu);
		for (;;) {
			now = util_mono_ms();
			if (u->stopping && (ok || o == UP_SKIP || now >= u->deadline_ms))
				break;
			/* a new bundle is worth a pass unless the store itself is down */
			if (now >= until || (o != UP_DOWN && u->kicked))
				break;
			wait_until(&u->cv, &u->mu,
				   u->stopping && u->deadline_ms < until ? u->deadline_ms : until);
		}
		u->kicked = false;
		bool done = u->stopping && (ok || o == UP_SKIP || o == UP_CANCEL ||
					    util_mono_ms() >= u->deadline_ms);
		pthread_mutex_unlock(&u->mu);
		if (done)
			break;
	}
	pthread_mutex_lock(&u->mu);
	u->exited = true;
	pthread_cond_broadcast(&u->done_cv);
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

int uploader_start(uploader *u)
{
	if (!u || u->started)
		return 0;
	int rc = pthread_create(&u->th, NULL, worker, u);
	if (rc != 0) {
		log_error("cannot start the uploader thread", "err=%s", strerror(rc));
		return -rc;
	}
	u->started = true;
	log_info("uploader started", "output=%s prefix=%s", u->output, u->prefix);
	return 0;
}

void uploader_kick(uploader *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->mu);
	u->kicked = true;
	pthread_cond_signal(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

void uploader_stop(uploader *u, int64_t deadline_ms)
{
	if (!u || !u->started)
		return;
	pthread_mutex_lock(&u->mu);
	u->stopping = true;
	u->deadline_ms = deadline_ms;
	pthread_cond_signal(&u->cv);
	while (!u->exited && util_mono_ms() < deadline_ms)
		wait_until(&u->done_cv, &u->mu, deadline_ms);
	if (!u->exited) /* a transfer is still running: make curl give up now */
		__atomic_store_n(&u->cancel, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&u->mu);
	pthread_join(u->th, NULL);
	u->started = false;
	struct uploader_stats s;
	uploader_get_stats(u, &s);
	log_info("uploader stopped", "pending_bundles=%llu uploaded_bundles=%llu",
		 (unsigned long long)s.pending_bundles, (unsigned long long)s.uploaded_bundles);
}

void uploader_free(uploader *u)
{
	if (!u)
		return;
	if (u->started)
		uploader_stop(u, util_mono_ms());
	s3_client_free(u->s3);
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->cv);
	pthread_cond_destroy(&u->done_cv);
	for (size_t i = 0; i < u->nretry; i++)
		free(u->retry[i].dir);
	free(u->retry);
	free(u->output);
	free(u->prefix);
	free(u);
}

void uploader_get_stats(uploader *u, struct uploader_stats *out)
{
	if (!u) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&u->mu);
	*out = u->st;
	pthread_mutex_unlock(&u->mu);
}
