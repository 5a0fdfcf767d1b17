/* test_summaries: the report's summaries: goroutines by state and stack, threads by call chain. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/gosummary.h"
#include "report/memsummary.h"
#include "report/stacksummary.h"
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

static const char stacks_txt[] =
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

/* Writes text to a temporary file and returns what print makes of it (caller frees). */
static char *summarize(int (*print)(const char *, FILE *, size_t), const char *text, size_t n,
		       int *rc)
{
	char path[] = "/tmp/test-summaries.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		*rc = -EIO;
		return NULL;
	}
	close(fd);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	*rc = print(path, out, n);
	fclose(out);
	unlink(path);
	return buf;
}

static void test_goroutines(void)
{
	int rc;
	char *s = summarize(gosummary_print, dump, 10, &rc);
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
	s = summarize(gosummary_print, dump, 1, &rc);
	ok(strstr(s, "main.other") == NULL && strstr(s, "IO wait") == NULL, "n limits the groups");
	free(s);
	s = summarize(gosummary_print, "not a dump\n", 5, &rc);
	is_int(rc, -EINVAL, "a file without goroutines: -EINVAL");
	free(s);
	is_int(gosummary_print("/nonexistent/goroutines.txt", stdout, 5), -ENOENT, "missing file");
}

static void test_threads(void)
{
	int rc;
	char *s = summarize(stacksummary_print, stacks_txt, 10, &rc);
	is_int(rc, 0, "stacks.txt is summarised");
	ok(strstr(s, "  4 threads in 3 groups (same call chain)\n") != NULL, "4 threads, 3 groups:\n%s", s);
	ok(strstr(s, "       2  50.0%  worker_loop  (in __futex_abstimed_wait_common)\n") != NULL,
	   "the pile-up: named by its code, with the libc frame it waits in");
	ok(strstr(s, "  ?@app+0x2000  (in read)\n") != NULL,
	   "an unnamed frame without a known function start reads ?@module+0xOFFSET");
	ok(strstr(s, "  ?\n") != NULL, "a thread with no frame (an error) is a group of its own");
	free(s);
	s = summarize(stacksummary_print, "PID 1 - process\n", 5, &rc);
	is_int(rc, -EINVAL, "no thread: -EINVAL");
	free(s);
	is_int(stacksummary_print("/nonexistent/stacks.txt", stdout, 5), -ENOENT, "missing file");
}

/* RSS that is freed memory the kernel has not taken back yet is explained in one line. */
static void test_rollup(void)
{
	static const char burst[] =
	    "55d0c0a00000-7ffd4b9e8000 ---p 00000000 00:00 0                          [rollup]\n"
	    "Rss:              434176 kB\n"
	    "Pss:              433000 kB\n"
	    "Anonymous:        425984 kB\n"
	    "LazyFree:         409600 kB\n"
	    "Swap:                  0 kB\n";
	static const char live[] = "Rss:              434176 kB\nLazyFree:           4096 kB\n";
	struct memsummary_rollup r;
	char line[256];

	is_int(memsummary_parse_rollup(burst, sizeof(burst) - 1, &r), 0, "smaps_rollup parses");
	ok(r.rss_kb == 434176 && r.lazyfree_kb == 409600 && r.anon_kb == 425984,
	   "Rss, LazyFree, Anonymous read");
	is_int(memsummary_lazyfree_line(&r, line, sizeof(line)), 1, "a LazyFree majority is explained");
	is_str(line,
	       "RSS 424 MiB, 400 MiB of it LazyFree: freed pages the kernel reclaims under pressure, "
	       "not live data",
	       "the line gives RSS and LazyFree");
	is_int(memsummary_parse_rollup(live, sizeof(live) - 1, &r), 0, "second rollup parses");
	is_int(memsummary_lazyfree_line(&r, line, sizeof(line)), 0, "1%% LazyFree says nothing");
	is_int(memsummary_parse_rollup("Pss: 1 kB\n", 10, &r), -EINVAL, "no Rss: -EINVAL");
	static const char vars[] = "{\"cmdline\": [\"x\"],\n\"memstats\": {\"HeapSys\": 5, "
				   "\"HeapReleased\": 419430400, \"HeapInuse\": 1}}";
	ok(memsummary_heap_released(vars, sizeof(vars) - 1) == 419430400,
	   "HeapReleased read from /debug/vars");
	ok(memsummary_heap_released("{}", 2) == -1, "no HeapReleased: -1");
}

static const char stripped_txt[] =
    "PID 50 - process\n"
    "TID 51 (worker_ab):\n"
    "#0  0x00007f0000001000 __lll_lock_wait - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "#1  0x00005555000017cd - /srv/dl (offset 0x17cc, build-id ab, in dl+0x17b0)\n"
    "#2  0x0000555500001854 - /srv/dl (offset 0x1853, build-id ab, in dl+0x1840)\n"
    "#3  0x00007f0000002000 start_thread - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "TID 52 (worker_ba):\n"
    "#0  0x00007f0000001000 __lll_lock_wait - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "#1  0x00005555000017cd - /srv/dl (offset 0x17cc, build-id ab, in dl+0x17b0)\n"
    "#2  0x0000555500001834 - /srv/dl (offset 0x1833, build-id ab, in dl+0x1820)\n"
    "#3  0x00007f0000002000 start_thread - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "TID 53 (worker_ba2):\n"
    "#0  0x00007f0000001000 __lll_lock_wait - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "#1  0x00005555000017d1 - /srv/dl (offset 0x17d0, build-id ab, in dl+0x17b0)\n"
    "#2  0x0000555500001834 - /srv/dl (offset 0x1833, build-id ab, in dl+0x1820)\n"
    "#3  0x00007f0000002000 start_thread - /usr/lib/x86_64-linux-gnu/libc.so.6\n";

static const char helper_txt[] =
    "PID 60 - process\n"
    "TID 61 (a):\n"
    "#0  0x00007f0000001000 clock_nanosleep - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "#1  0x0000555500001000 sleep_until - /srv/app\n"
    "#2  0x0000555500002000 open_session_log - /srv/app\n"
    "#3  0x0000555500003000 handle - /srv/app\n"
    "TID 62 (b):\n"
    "#0  0x00007f0000001000 clock_nanosleep - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "#1  0x0000555500001000 sleep_until - /srv/app\n"
    "#2  0x0000555500002000 open_session_log - /srv/app\n"
    "#3  0x0000555500003000 handle - /srv/app\n"
    "TID 63 (c):\n"
    "#0  0x00007f0000001000 clock_nanosleep - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "#1  0x0000555500001000 sleep_until - /srv/app\n"
    "#2  0x0000555500004000 flush_cache - /srv/app\n"
    "#3  0x0000555500003000 handle - /srv/app\n"
    "TID 64 (d):\n"
    "#0  0x00007f0000005000 read - /usr/lib/x86_64-linux-gnu/libc.so.6\n"
    "#1  0x0000555500006000 serve - /srv/app\n";

/* Stripped code: grouped by function start; different chains apart; named by what differs. */
static void test_threads_stripped(void)
{
	int rc;
	char *s = summarize(stacksummary_print, stripped_txt, 10, &rc);
	is_int(rc, 0, "a stripped stacks.txt is summarised");
	ok(strstr(s, "  3 threads in 2 groups (same call chain)\n") != NULL,
	   "two instructions of one function are one function; two chains stay two groups:\n%s", s);
	ok(strstr(s, "       2  66.7%  dl+0x1820 -> dl+0x17b0  (in __lll_lock_wait)\n") != NULL,
	   "the larger group named by its own frame and the helper both share");
	ok(strstr(s, "       1  33.3%  dl+0x1840 -> dl+0x17b0  (in __lll_lock_wait)\n") != NULL,
	   "the other deadlocked thread is a group of its own");
	free(s);
	s = summarize(stacksummary_print, helper_txt, 10, &rc);
	ok(strstr(s, "       2  50.0%  open_session_log -> sleep_until  (in clock_nanosleep)\n") != NULL,
	   "a shared helper does not hide the culprit:\n%s", s);
	ok(strstr(s, "       1  25.0%  flush_cache -> sleep_until  (in clock_nanosleep)\n") != NULL,
	   "the other caller of the helper");
	ok(strstr(s, "       1  25.0%  serve  (in read)\n") != NULL,
	   "a group whose innermost own frame is its own keeps the short name");
	free(s);
}

int main(void)
{
	test_threads_stripped();
	test_goroutines();
	test_threads();
	test_rollup();
	return done_testing();
}
