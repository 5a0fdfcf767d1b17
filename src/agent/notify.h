/* notify: service-manager notifications (systemd sd_notify); no-ops without libsystemd. */
#ifndef HOUND_NOTIFY_H
#define HOUND_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);

/*
 * Pets the systemd watchdog (WatchdogSec=, seen as WATCHDOG_USEC) from a
 * thread of its own every WATCHDOG_USEC/2, so a long sampling interval does
 * not starve it; but only while the sampling loop is alive: *busy_since_ms
 * is the monotonic ms at which the loop started its current tick or reload,
 * 0 while it waits for the next one (read atomically). A tick stuck for
 * longer than WATCHDOG_USEC/2 stops the petting and systemd restarts the
 * agent. Does nothing when the service has no watchdog. 0 or -errno.
 */
int notify_watchdog_start(const int64_t *busy_since_ms);
void notify_watchdog_stop(void);

/* Pure: a loop busy since busy_since_ms (0: waiting) is alive at now_ms. */
bool notify_loop_alive(int64_t now_ms, int64_t busy_since_ms, int64_t limit_ms);

#endif
