/* test_log: field values can never become fields (log injection). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "tap.h"

static char out[8192];

/* Runs one log_msg with stderr sent to a temporary file; out holds the line. */
#define CAPTURE(...)                                                                \
	do {                                                                        \
		FILE *tf_ = tmpfile();                                              \
		int saved_ = dup(2);                                                \
		fflush(stderr);                                                     \
		dup2(fileno(tf_), 2);                                               \
		log_msg(__VA_ARGS__);                                               \
		dup2(saved_, 2);                                                    \
		close(saved_);                                                      \
		rewind(tf_);                                                        \
		size_t n_ = fread(out, 1, sizeof(out) - 1, tf_);                    \
		out[n_] = '\0';                                                     \
		fclose(tf_);                                                        \
	} while (0)

/* Everything after the timestamp field. */
static const char *after_ts(void)
{
	const char *p = strstr(out, "level");
	return p ? p - (out[0] == '{' ? 1 : 0) : "";
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Keys of a logfmt line as a logfmt reader sees them, counting `key`. */
static int logfmt_keys(const char *line, const char *key)
{
	int n = 0;
	size_t kl = strlen(key);
	bool quoted = false;
	for (const char *p = line; *p; p++) {
		if (quoted) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = false;
		} else if (*p == '"') {
			quoted = true;
		} else if ((p == line || p[-1] == ' ') && !strncmp(p, key, kl) && p[kl] == '=') {
			n++;
		}
	}
	return n;
}

int main(void)
{
	const char *evil = "x level=error msg=injected";

	log_setup(LOG_FMT_LOGFMT, LOG_DEBUG);
	CAPTURE(LOG_INFO, "alert received", "alertname=%s target=%s n=%d", evil, "api", 3);
	is_str(after_ts(),
	       "level=info msg=\"alert received\" alertname=\"x level=error msg=injected\" "
	       "target=api n=3\n",
	       "logfmt: an injected value stays one quoted value");
	is_int(logfmt_keys(out, "level"), 1, "logfmt: one level field");
	is_int(logfmt_keys(out, "msg"), 1, "logfmt: one msg field");

	CAPTURE(LOG_INFO, "m", "a=%s b=%s", "q\"uote\\d\nnew", "");
	is_str(after_ts(), "level=info msg=m a=\"q\\\"uote\\\\d\\nnew\" b=\"\"\n",
	       "logfmt: quotes, backslashes, newlines and empty values are escaped");

	log_setup(LOG_FMT_JSON, LOG_DEBUG);
	CAPTURE(LOG_WARN, "alert received", "alertname=%s target=%s", evil, "api");
	is_str(after_ts(),
	       "\"level\":\"warn\",\"msg\":\"alert received\",\"alertname\":\"x level=error "
	       "msg=injected\",\"target\":\"api\"}\n",
	       "json: an injected value is one string, no duplicate keys");
	is_int(count(out, "\"level\""), 1, "json: one level key");
	is_int(count(out, "\"msg\""), 1, "json: one msg key");

	/* An argument shaped like a key boundary, in the middle of a value. */
	CAPTURE(LOG_ERROR, "m", "err=%s (%d) pid=%d", "a \"msg\":\"x\" level=debug", 7, 42);
	is_str(after_ts(),
	       "\"level\":\"error\",\"msg\":\"m\",\"err\":\"a \\\"msg\\\":\\\"x\\\" level=debug "
	       "(7)\",\"pid\":\"42\"}\n",
	       "json: literal text and several conversions in one value");

	log_setup(LOG_FMT_LOGFMT, LOG_DEBUG);
	CAPTURE(LOG_INFO, "m", "a=%5.1f b=%*d c=%.*s d=%llu e=%zu f=%lx g=%% h=%c i=%-4s|",
		2.25, 4, 7, 3, "abcdef", 18446744073709551615ULL, (size_t)12, 255UL, 'z', "ab");
	is_str(after_ts(),
	       "level=info msg=m a=\"  2.2\" b=\"   7\" c=abc d=18446744073709551615 e=12 f=ff "
	       "g=% h=z i=\"ab  |\"\n",
	       "conversions: width, precision, star, length modifiers, %%%%");

	CAPTURE(LOG_INFO, "m", "%s", "no key here=1");
	is_str(after_ts(), "level=info msg=m detail=\"no key here=1\"\n",
	       "a format without a key is one detail value");

	CAPTURE(LOG_DEBUG, "m", NULL);
	is_str(after_ts(), "level=debug msg=m\n", "no fields");
	return done_testing();
}
