/* test_stacksummary: thread stacks grouped by call chain, as hound report prints them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stacksummary.h"
#include "tap.h"

static const char text[] =
    "PID 42 - process\n"
    "TID 42 (app):\n"
    "#0  0x00007f0000001000 __futex_abstimed_wait_common - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "    ./nptl/futex-internal.c:57\n"
    "#1  0x0000555500001000 worker_loop - /srv/app\n"
    "#2  0x00007f0000002000 start_thread - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "TID 43 (worker-1):\n"
    "#0  0x00007f0000001000 __futex_abstimed_wait_common - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "#1  0x0000555500001000 worker_loop - /srv/app\n"
    "#2  0x00007f0000002000 start_thread - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "TID 44 (stripped):\n"
    "#0  0x00007f0000003000 read - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "#1  0x0000555500002000 - /srv/app (offset 0x2000, build-id 0123abcd)\n"
    "TID 45 (gone):\n"
    "    error: ptrace(PTRACE_SEIZE, 45): No such process\n";

static char *summarize(const char *t, size_t n, int *rc)
{
	char path[] = "/tmp/test-stacksummary.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, t, strlen(t)) != (ssize_t)strlen(t)) {
		*rc = -EIO;
		return NULL;
	}
	close(fd);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	*rc = stacksummary_print(path, out, n);
	fclose(out);
	unlink(path);
	return buf;
}

int main(void)
{
	int rc;
	char *s = summarize(text, 10, &rc);
	is_int(rc, 0, "stacks.txt is summarised");
	ok(strstr(s, "  4 threads in 3 groups (same call chain)\n") != NULL, "4 threads, 3 groups:\n%s", s);
	ok(strstr(s, "       2  50.0%  worker_loop  (in __futex_abstimed_wait_common)\n") != NULL,
	   "the pile-up: named by its code, with the libc frame it waits in");
	ok(strstr(s, "  ?@app  (in read)\n") != NULL, "an unnamed frame reads ?@module");
	ok(strstr(s, "  ?\n") != NULL, "a thread with no frame (an error) is a group of its own");
	free(s);
	s = summarize("PID 1 - process\n", 5, &rc);
	is_int(rc, -EINVAL, "no thread: -EINVAL");
	free(s);
	is_int(stacksummary_print("/nonexistent/stacks.txt", stdout, 5), -ENOENT, "missing file");
	return done_testing();
}
