/* test_privs: which capabilities a config needs, the report, and the real drop in a child. */
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/privs.h"
#include "config/config.h"
#include "tap.h"

#define PTRACE_BIT (UINT64_C(1) << CAP_SYS_PTRACE)
#define DAC_RS_BIT (UINT64_C(1) << CAP_DAC_READ_SEARCH)

static char spool[] = "/tmp/test_privs.XXXXXX";

static struct hound_config *load(const char *body)
{
	struct hound_config *c = NULL;
	struct config_errors errs = {0};
	char *text = NULL;

	if (asprintf(&text, "output: %s\n%s", spool, body) < 0)
		abort();
	if (config_load_buffer("t.yaml", text, strlen(text), &c, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			printf("# config: %s\n", errs.msgs[i]);
	}
	config_errors_fini(&errs);
	free(text);
	return c;
}

static unsigned needed(const char *body)
{
	struct hound_config *c = load(body);
	unsigned bits = c ? privs_needed(c) : 0xdead;
	config_free(c);
	return bits;
}

#define TARGET(extra, captures)                                                                    \
	"targets:\n  - name: api\n    match: {comm: api}\n" extra "    rules:\n"                   \
	"      - {name: r, metric: rss, abs: 1GiB, capture: " captures "}\n"

static void needs(void)
{
	is_int(needed(TARGET("", "[heap, stacks]")),
	       PRIV_PTRACE | PRIV_PERFMON | PRIV_BPF | PRIV_UPROBE,
	       "native heap+stacks: ptrace, perfmon for the page-fault profile, bpf+uprobes for "
	       "malloc tracking");
	is_int(needed(TARGET("    malloc: {enabled: false}\n", "[heap, stacks]")),
	       PRIV_PTRACE | PRIV_PERFMON, "malloc: {enabled: false}: no bpf, no uprobes");
	is_int(needed(TARGET("", "[{cpu: 5s}]")), PRIV_PTRACE | PRIV_PERFMON,
	       "native cpu: perfmon (+ptrace for maps and the fallback)");
	is_int(needed(TARGET("", "[{command: [true]}]")), PRIV_PTRACE | PRIV_DAC_READ_SEARCH,
	       "a command keeps what inspecting the target needs");
	is_int(needed(TARGET("    go: {url: 'http://127.0.0.1:6060'}\n",
			     "[{cpu: 5s}, goroutines]")),
	       0, "Go cpu/goroutines go over HTTP: nothing");
	is_int(needed(TARGET("    go: {url: 'http://127.0.0.1:6060'}\n", "[heap]")), PRIV_PTRACE,
	       "Go heap: ptrace to read smaps_rollup");
	is_int(needed(TARGET("    go: {url: 'http://127.0.0.1:6060'}\n", "[stacks]")), PRIV_PTRACE,
	       "Go stacks still ptrace");
	is_int(needed("targets:\n  - name: api\n    match: {comm: api}\n    rules:\n"
		      "      - {name: f, metric: fds, abs: 100, capture: [{command: [true]}]}\n"),
	       PRIV_DAC_READ_SEARCH | PRIV_PTRACE, "fds metric and a command: dac_read_search, ptrace");
	is_int(needed("api: {listen: '127.0.0.1:9155'}\ntargets:\n  - name: api\n    match: {comm: "
		      "api}\n"),
	       PRIV_PTRACE | PRIV_PERFMON | PRIV_BPF | PRIV_UPROBE | PRIV_DAC_READ_SEARCH,
	       "the API may ask any native kind but command (fds reads another user's fd table)");
	is_int(needed("api: {listen: '127.0.0.1:9155'}\n"
		      "alerts:\n  - {match: {alertname: X}, target_label: t, capture: [stacks]}\n"
		      "targets:\n  - name: api\n    match: {comm: api}\n"
		      "    go: {url: 'http://127.0.0.1:6060'}\n"),
	       PRIV_PTRACE | PRIV_DAC_READ_SEARCH,
	       "alert route by label reaches every target; Go cpu needs nothing");
	is_int(needed("targets:\n  - name: api\n    match: {comm: api}\n"), 0,
	       "sampling alone needs nothing");
	is_int(needed(TARGET("", "[locks]")), PRIV_PTRACE, "locks: ptrace (syscall and mem files)");
	is_int(needed(TARGET("", "[fds]")), PRIV_DAC_READ_SEARCH | PRIV_PTRACE,
	       "fds: dac_read_search and ptrace (another user's /proc/PID/fd)");
	is_int(needed("targets:\n  - name: api\n    match: {comm: api}\n    rules:\n"
		      "      - {name: d, metric: deadlocked, abs: 0, capture: [stacks]}\n"),
	       PRIV_PTRACE, "the deadlocked metric: ptrace");
}

static uint64_t status_caps(const char *key)
{
	char line[256];
	uint64_t v = UINT64_MAX;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtoull(line + strlen(key) + 1, NULL, 16);
	if (f)
		fclose(f);
	return v;
}

/* Drops one capability from this (child) process's effective set. */
static int drop_effective(int cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	d[cap / 32].effective &= ~(1u << (cap % 32));
	return syscall(SYS_capset, &h, d) < 0 ? -1 : 0;
}

static char *report_of(struct hound_config *c, int *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*n = privs_report(c, f);
	fclose(f);
	return buf;
}

static void report(void)
{
	struct hound_config *c = load(TARGET("", "[stacks, {cpu: 5s}]"));
	int n;
	char *text;

	/* In a child, so the drop does not leak into the rest of the test. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = drop_effective(CAP_SYS_PTRACE);
		text = report_of(c, &n);
		_exit(rc == 0 && n >= 1 &&
			      strstr(
				  text,
				  "stacks for target api needs CAP_SYS_PTRACE, used by rule r\n") &&
			      strstr(text,
				     "cpu for target api needs CAP_SYS_PTRACE, used by rule r\n")
			  ? 0
			  : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "without CAP_SYS_PTRACE the report names stacks and cpu for target api");

	text = report_of(c, &n);
	if (status_caps("CapEff:") & PTRACE_BIT)
		ok(!strstr(text, "CAP_SYS_PTRACE"), "with CAP_SYS_PTRACE nothing about it: %s",
		   text);
	else
		ok(strstr(text, "stacks for target api needs CAP_SYS_PTRACE") != NULL,
		   "unprivileged: report names CAP_SYS_PTRACE");
	free(text);
	config_free(c);
}

static void *sleeper(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

/* Runs fn in a child; returns its exit status (0 = all good). */
static int in_child(int (*fn)(struct hound_config *), struct hound_config *c)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn(c));
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int child_threads(struct hound_config *c)
{
	pthread_t t;
	char err[256] = "";

	pthread_create(&t, NULL, sleeper, NULL);
	int rc = privs_apply(c, err, sizeof(err));
	return rc == -EINVAL && strstr(err, "per thread") ? 0 : 1;
}

static int child_drop(struct hound_config *c)
{
	char err[256] = "";

	if (privs_apply(c, err, sizeof(err)) < 0) {
		printf("# privs_apply: %s\n", err);
		return 1;
	}
	if (status_caps("CapEff:") != PTRACE_BIT || status_caps("CapPrm:") != PTRACE_BIT)
		return 2;
	if (status_caps("CapBnd:") != PTRACE_BIT)
		return 3;
	if (status_caps("CapInh:") != 0 || status_caps("CapAmb:") != 0)
		return 4;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 5;
	return 0;
}

static int child_user(struct hound_config *c)
{
	char err[256] = "";
	struct stat st;

	if (privs_apply(c, err, sizeof(err)) < 0) {
		printf("# privs_apply: %s\n", err);
		return 1;
	}
	if (getuid() != 65534 || geteuid() != 65534)
		return 2;
	if (status_caps("CapEff:") != (PTRACE_BIT | DAC_RS_BIT))
		return 3;
	if (stat(spool, &st) < 0 || st.st_uid != 65534 || access(spool, W_OK) < 0)
		return 4;
	if (setuid(0) == 0)
		return 5;
	return 0;
}

static void apply(void)
{
	struct hound_config *c = load(TARGET("", "[stacks]"));
	uint64_t eff = status_caps("CapEff:");
	bool root = geteuid() == 0 && (eff & PTRACE_BIT) && (eff & (UINT64_C(1) << CAP_SETPCAP));

	is_int(in_child(child_threads, c), 0, "privs_apply refuses once threads run");
	if (!root) {
		printf("# not root with full capabilities: skipping the drop checks\n");
		config_free(c);
		return;
	}
	is_int(in_child(child_drop, c), 0,
	       "stacks only: CapEff=CapPrm=CapBnd=CAP_SYS_PTRACE, no inheritable/ambient, "
	       "no_new_privs");
	config_free(c);

	c = load("targets:\n  - name: api\n    match: {comm: api}\n    rules:\n"
		 "      - {name: f, metric: fds, abs: 100, capture: [stacks]}\n");
	c->run_as_user = "nobody";
	is_int(in_child(child_user, c), 0,
	       "user nobody: uid 65534, keeps CAP_SYS_PTRACE+CAP_DAC_READ_SEARCH, owns the spool, "
	       "cannot go back to root");
	c->run_as_user = NULL;
	config_free(c);
}

int main(void)
{
	if (!mkdtemp(spool))
		return 1;
	needs();
	report();
	apply();
	rmdir(spool);
	return done_testing();
}
