/*
 * reloader: loads a new configuration on its own thread, so a slow or
 * hostile file never stalls the sampling loop (nor /healthz, which watches
 * it). The loop asks for a load on SIGHUP and picks the result up later.
 */
#ifndef HOUND_RELOADER_H
#define HOUND_RELOADER_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "config/config.h"

/* Sent to the waiting thread when a result is ready (blocked in every thread). */
#define RELOADER_SIGNAL SIGUSR2

struct reloader;

/*
 * A reloader that will signal `waiter` with RELOADER_SIGNAL when a load
 * finishes. Free with reloader_free.
 */
struct reloader *reloader_new(pthread_t waiter);
/*
 * Frees r; a load still running is not waited for (it may block for good on
 * a FIFO or a hung file system): its thread frees what is left. NULL ok.
 */
void reloader_free(struct reloader *r);

/*
 * Starts loading path (copied) on the reloader's thread. A request made
 * while a load runs is remembered and served by one more load once the
 * current one is taken, so the last SIGHUP always wins. 0 or -errno.
 */
int reloader_request(struct reloader *r, const char *path);

/*
 * If a load has finished: true, with *rc, *nc (owned by the caller, NULL on
 * error) and *errs (the caller runs config_errors_fini) filled as
 * config_load fills them. false when nothing is ready.
 */
bool reloader_take(struct reloader *r, int *rc, struct hound_config **nc,
		   struct config_errors *errs);

#endif
