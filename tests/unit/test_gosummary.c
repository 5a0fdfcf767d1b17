/* test_gosummary: goroutine dumps grouped by state and stack, as hound report prints them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gosummary.h"
#include "tap.h"

static const char dump[] =
    "goroutine 1 [IO wait]:\n"
    "internal/poll.runtime_pollWait(0x7f, 0x72)\n"
    "\t/usr/lib/go/src/runtime/netpoll.go:305 +0x89\n"
    "net.(*netFD).accept(0xc000100c80)\n"
    "\t/usr/lib/go/src/net/fd_unix.go:172 +0x35\n"
    "\n"
    "goroutine 7 [chan receive, 5 minutes]:\n"
    "runtime.gopark(0x0?, 0x0?)\n"
    "\t/usr/lib/go/src/runtime/proc.go:363 +0xd6\n"
    "main.pollUpstream(...)\n"
    "\t/src/ticker.go:20 +0x45\n"
    "created by main.tickerTick in goroutine 5\n"
    "\t/src/ticker.go:9 +0x6a\n"
    "\n"
    "goroutine 8 [chan receive, 4 minutes]:\n"
    "runtime.gopark(0x0?, 0x0?)\n"
    "\t/usr/lib/go/src/runtime/proc.go:363 +0xd6\n"
    "main.pollUpstream(...)\n"
    "\t/src/ticker.go:20 +0x45\n"
    "created by main.tickerTick in goroutine 5\n"
    "\t/src/ticker.go:9 +0x6a\n"
    "\n"
    "goroutine 9 [chan receive]:\n"
    "main.pollUpstream(...)\n"
    "\t/src/ticker.go:20 +0x45\n"
    "created by main.other\n"
    "\t/src/other.go:3 +0x6a\n";  /* no blank line at the end */

static char *summarize(const char *text, size_t n, int *rc)
{
	char path[] = "/tmp/test-gosummary.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		*rc = -EIO;
		return NULL;
	}
	close(fd);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	*rc = gosummary_print(path, out, n);
	fclose(out);
	unlink(path);
	return buf;
}

int main(void)
{
	int rc;
	char *s = summarize(dump, 10, &rc);
	is_int(rc, 0, "a dump is summarised");
	ok(strstr(s, "4 goroutines in 3 groups") != NULL, "4 goroutines, 3 groups:\n%s", s);
	const char *first = strchr(s, '\n') + 1;
	ok(strncmp(first, "       2  50.0%  [chan receive]  main.pollUpstream  (created by main.tickerTick)\n",
		   80) == 0,
	   "largest group first: state without its age, first frame outside the runtime, creator");
	ok(strstr(s, "[chan receive]  main.pollUpstream  (created by main.other)") != NULL,
	   "another creator is another group (and the last goroutine counts without a blank line)");
	ok(strstr(s, "[IO wait]  internal/poll.runtime_pollWait\n") != NULL,
	   "no creator: none printed");
	free(s);
	s = summarize(dump, 1, &rc);
	ok(strstr(s, "main.other") == NULL && strstr(s, "IO wait") == NULL, "n limits the groups");
	free(s);
	s = summarize("not a dump\n", 5, &rc);
	is_int(rc, -EINVAL, "a file without goroutines: -EINVAL");
	free(s);
	is_int(gosummary_print("/nonexistent/goroutines.txt", stdout, 5), -ENOENT, "missing file");
	return done_testing();
}
