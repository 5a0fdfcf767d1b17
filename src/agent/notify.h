/* notify: service-manager notifications (systemd sd_notify); no-ops without libsystemd. */
#ifndef HOUND_NOTIFY_H
#define HOUND_NOTIFY_H

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
/* Pets the watchdog when WatchdogSec is set; called once per sampling tick. */
void notify_watchdog(void);

#endif
