/* log: structured log lines (logfmt or JSON) on stderr. */
#ifndef HOUND_LOG_H
#define HOUND_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FMT_LOGFMT, LOG_FMT_JSON };

void log_setup(enum log_format fmt, enum log_level min_level);
/* Parses "debug|info|warn|error"; returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
int log_parse_format(const char *s, enum log_format *out);
bool log_enabled(enum log_level lvl);

/*
 * log_msg(LOG_INFO, "target exited", "target=%s pid=%d", name, pid)
 * The fields format is split into key=value pairs at every " key=" boundary
 * of the format itself (keys are [a-z0-9_.]+); each value is then formatted
 * from its own arguments and quoted/escaped as the output format needs, so
 * an argument can never add a field, whatever it contains. fields may be
 * NULL. Conversions: the usual d i u o x X c s p f e g a %% and %m, with
 * flags, width, precision (also *) and length modifiers; not %n.
 * Thread-safe: one write(2) per line.
 */
void log_msg(enum log_level lvl, const char *msg, const char *fields, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
