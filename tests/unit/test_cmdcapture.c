/* Unit tests for the `command` capture kind, running real commands into a real bundle. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "capture/capture.h"
#include "capture/cmdcapture.h"
#include "lib/util.h"
#include "tap.h"

static char root[PATH_MAX];

struct result {
	int rc;
	char err[512];
	char *out; /* the command-N.txt content, or NULL */
	char name[32];
};

/* Runs argv as a `command` capture in bundle b; reads back the newest command-N.txt. */
static struct result run(bundle *b, const char *const *argv, int64_t timeout_ms,
			 volatile sig_atomic_t *stop)
{
	struct capture_ctx ctx = {.bundle = b, .pid = getpid(), .stop = stop};
	struct result r;
	char path[PATH_MAX];
	size_t argc = 0;

	while (argv[argc])
		argc++;
	/* The config owns mutable copies; so do we. */
	char **copy = xcalloc(argc + 1, sizeof(*copy));
	for (size_t i = 0; i < argc; i++)
		copy[i] = xstrdup(argv[i]);
	struct capture_item item = {.kind = K_COMMAND, .argv = copy, .timeout_ms = timeout_ms};
	memset(&r, 0, sizeof(r));
	r.rc = command_capture(&ctx, &item, r.err, sizeof(r.err));
	for (size_t i = 0; i < argc; i++)
		free(copy[i]);
	free(copy);
	for (int n = 1; n < 100; n++) {
		char name[32];
		snprintf(name, sizeof(name), "command-%d.txt", n);
		util_snprintf(path, sizeof(path), "%s/%s", bundle_dir(b), name);
		if (access(path, F_OK) != 0)
			break;
		snprintf(r.name, sizeof(r.name), "%s", name);
	}
	if (r.name[0]) {
		util_snprintf(path, sizeof(path), "%s/%s", bundle_dir(b), r.name);
		size_t len;
		if (util_read_file(path, &r.out, &len, 64u << 20) < 0)
			r.out = NULL;
	}
	return r;
}

/* The first line of out as a pid. */
static pid_t first_pid(const char *out)
{
	return out ? (pid_t)strtol(out, NULL, 10) : 0;
}

/* Waits for a process reparented to us (we are a subreaper): true when a signal killed it. */
static bool reaped_by_signal(pid_t pid, int *sig)
{
	int st;
	if (pid <= 0 || waitpid(pid, &st, 0) != pid)
		return false;
	*sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	return WIFSIGNALED(st);
}

static void test_subst(void)
{
	char *s = cmdcapture_subst("{pid}-{dir}/x{pid}", 42, "/b/d");
	is_str(s, "42-/b/d/x42", "every {pid} and {dir} replaced");
	free(s);
	s = cmdcapture_subst("{pi}{dir", 42, "/b");
	is_str(s, "{pi}{dir", "partial placeholders left alone");
	free(s);
	s = cmdcapture_subst("", 1, "/b");
	is_str(s, "", "empty argument");
	free(s);
}

static void test_basic(bundle *b)
{
	const char *echo[] = {"echo", "pid={pid}", "dir={dir}", NULL};
	struct result r = run(b, echo, 0, NULL);
	char want[PATH_MAX + 64];

	is_int(r.rc, 0, "echo exits 0 (%s)", r.err);
	is_str(r.name, "command-1.txt", "output in command-1.txt");
	util_snprintf(want, sizeof(want), "pid=%d dir=%s\n", (int)getpid(), bundle_dir(b));
	is_str(r.out, want, "{pid} and {dir} substituted, no shell");
	free(r.out);

	const char *glob[] = {"echo", "*", "$HOME", "a;b", NULL};
	r = run(b, glob, 0, NULL);
	is_str(r.name, "command-2.txt", "next output in command-2.txt");
	is_str(r.out, "* $HOME a;b\n", "no shell: no globbing, expansion or separators");
	free(r.out);

	const char *both[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	r = run(b, both, 0, NULL);
	is_int(r.rc, -EIO, "non-zero exit is an error");
	is_str(r.err, "command sh: exit status 3", "error names the status");
	ok(r.out && strstr(r.out, "out\n") && strstr(r.out, "err\n"), "stdout and stderr captured");
	free(r.out);

	const char *sig[] = {"sh", "-c", "kill -9 $$", NULL};
	r = run(b, sig, 0, NULL);
	is_int(r.rc, -EIO, "killed by a signal is an error");
	is_str(r.err, "command sh: killed by signal 9 (Killed)", "error names the signal");
	free(r.out);

	const char *missing[] = {"hound-no-such-command", "x", NULL};
	r = run(b, missing, 0, NULL);
	is_int(r.rc, -ENOENT, "missing command: -ENOENT");
	is_str(r.err, "execvp(hound-no-such-command): No such file or directory",
	       "exec failure message");
	is_str(r.name, "command-4.txt", "no output file left for a command that never ran");
	free(r.out);

	const char *cat[] = {"cat", NULL};
	r = run(b, cat, 0, NULL);
	ok(r.rc == 0 && r.out && r.out[0] == '\0', "stdin is /dev/null: cat ends at once");
	free(r.out);

	const char *empty[] = {NULL};
	r = run(b, empty, 0, NULL);
	is_int(r.rc, -EINVAL, "empty argv refused");
	free(r.out);

	/* A descriptor the agent forgot to mark close-on-exec must not reach the command. */
	int fd = open("/dev/null", O_RDONLY);
	char check[64];
	snprintf(check, sizeof(check), "test -e /proc/self/fd/%d && echo leaked || echo closed",
		 fd);
	const char *leak[] = {"sh", "-c", check, NULL};
	r = run(b, leak, 0, NULL);
	is_str(r.out, "closed\n", "agent descriptors are closed in the command");
	free(r.out);
	close(fd);
}

static void test_timeouts(bundle *b)
{
	int sig = 0;

	/* The leader and a grandchild both die when the time is up. */
	const char *slow[] = {"sh", "-c", "sleep 30 & echo $!; wait", NULL};
	struct result r = run(b, slow, 300, NULL);
	is_int(r.rc, -ETIMEDOUT, "timeout: -ETIMEDOUT");
	is_str(r.err, "command sh: timed out after 300ms", "timeout message");
	ok(r.out &&
	       strstr(r.out, "[hound: timed out after 300ms; sent SIGTERM to the process group]"),
	   "the output file says so");
	ok(reaped_by_signal(first_pid(r.out), &sig) && sig == SIGTERM,
	   "grandchild in the group got SIGTERM (signal %d)", sig);
	free(r.out);

	/* SIGTERM ignored: SIGKILL follows after the grace period. */
	const char *stubborn[] = {"sh", "-c", "trap '' TERM; sleep 30 & echo $!; wait", NULL};
	r = run(b, stubborn, 200, NULL);
	is_int(r.rc, -ETIMEDOUT, "stubborn command timed out");
	ok(r.out && strstr(r.out, "sent SIGTERM then SIGKILL"), "escalated to SIGKILL");
	ok(reaped_by_signal(first_pid(r.out), &sig) && sig == SIGKILL,
	   "grandchild ignoring SIGTERM got SIGKILL (signal %d)", sig);
	free(r.out);

	/* Our blocked SIGTERM must not be inherited: SIGTERM alone ends it. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	const char *sleeper[] = {"sleep", "30", NULL};
	r = run(b, sleeper, 200, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	ok(r.rc == -ETIMEDOUT && r.out && !strstr(r.out, "SIGKILL"),
	   "signal mask reset for the command: SIGTERM was enough");
	free(r.out);

	/* The leader exits but a background child keeps the output open. */
	const char *straggler[] = {"sh", "-c", "sleep 30 & echo $!", NULL};
	r = run(b, straggler, 30000, NULL);
	is_int(r.rc, 0, "leader exited 0 (%s)", r.err);
	ok(r.out && strstr(r.out, "held its output open; killed"), "straggler noted");
	ok(reaped_by_signal(first_pid(r.out), &sig) && sig == SIGKILL,
	   "straggler holding the pipe was killed (signal %d)", sig);
	free(r.out);

	/* Shutdown: the stop flag ends a command early. */
	volatile sig_atomic_t stop = 1;
	r = run(b, sleeper, 30000, &stop);
	is_int(r.rc, -ECANCELED, "stop flag: -ECANCELED");
	ok(r.out && strstr(r.out, "agent shutting down"), "stop noted in the output");
	free(r.out);
}

static void test_output_cap(bundle *b)
{
	const char *big[] = {"head", "-c", "20000000", "/dev/zero", NULL};
	struct result r = run(b, big, 60000, NULL);
	char path[PATH_MAX];
	struct stat st;

	is_int(r.rc, 0, "20MB of output: command succeeded (%s)", r.err);
	util_snprintf(path, sizeof(path), "%s/%s", bundle_dir(b), r.name);
	ok(stat(path, &st) == 0 && st.st_size > (off_t)CMDCAPTURE_MAX_OUTPUT &&
	       st.st_size < (off_t)CMDCAPTURE_MAX_OUTPUT + 200,
	   "file holds 16MiB plus a note (%lld bytes)", (long long)st.st_size);
	ok(r.out && strstr(r.out + CMDCAPTURE_MAX_OUTPUT,
			   "[hound: output truncated at 16.0MiB; 3222784 more bytes dropped]"),
	   "truncation noted with the dropped count");
	free(r.out);
}

static void test_manifest(bundle *b)
{
	struct bundle_process proc = {.pid = getpid(), .comm = "test_cmdcapture"};
	struct bundle_trigger trig = {.kind = TRIGGER_MANUAL, .reason = "test"};
	char final[PATH_MAX], path[PATH_MAX];
	char *m = NULL;
	size_t len;

	is_int(bundle_finish(b, "t", &trig, &proc, NULL, 0, final), 0, "bundle finished");
	util_snprintf(path, sizeof(path), "%s/manifest.json", final);
	util_read_file(path, &m, &len, 1 << 20);
	ok(m && strstr(m, "\"command-1.txt\"") && strstr(m, "\"kind\": \"command\""),
	   "manifest lists command-1.txt as kind command");
	ok(m && strstr(m, "sh -c echo out; echo err >&2; exit 3: exit status 3"),
	   "manifest note: argv and outcome");
	free(m);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	bundle *b;

	/* Orphaned grandchildren come back to us, so the tests can see how they died. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	util_snprintf(root, sizeof(root), "%s/hound-cmdcapture.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return done_testing();
	}
	test_subst();
	if (bundle_create(root, getpid(), "manual", util_wall_ms(), &b) < 0) {
		ok(0, "bundle_create");
		return done_testing();
	}
	test_basic(b);
	test_timeouts(b);
	test_output_cap(b);
	test_manifest(b);
	if (!tap_failed)
		util_rm_rf(root);
	else
		printf("# kept %s\n", root);
	return done_testing();
}
