/* privs: least privilege: the agent keeps only the capabilities its config needs. */
#include "agent/privs.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/log.h"
#include "lib/metric.h"
#include "lib/util.h"

/* Older kernel headers lack the newer names; the numbers are ABI. */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT		 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* ---- what the config needs (pure) ---- */

/* One reason a privilege is needed: "stacks for target api (rule rss-spike)". */
struct need {
	const char *what; /* "stacks", "cpu", "heap", "the fds metric", ... */
	const char *target;
	unsigned bit; /* one PRIV_* */
	char via[96]; /* "rule rss-spike", "alert routes", "API requests" */
};

typedef void (*need_fn)(const struct need *n, void *arg);

/* The privileges one capture kind needs of a target: Go kinds go over HTTP. */
static unsigned kind_bits(enum capture_kind k, bool go)
{
	switch (k) {
	case K_STACKS:
		return PRIV_PTRACE; /* PTRACE_SEIZE, also on Go targets */
	case K_CPU:
		/* perf_event_open; /proc/PID/maps and /proc/PID/root for symbols
		 * and the ptrace fallback need ptrace access */
		return go ? 0 : PRIV_PERFMON | PRIV_PTRACE;
	case K_HEAP:
		/* /proc/PID/smaps and smaps_rollup (Go too): PTRACE_MODE_READ; the
		 * native page-fault profile: perf_event_open */
		return go ? PRIV_PTRACE : PRIV_PTRACE | PRIV_PERFMON;
	case K_LOCKS:
		return PRIV_PTRACE; /* /proc/PID/task/TID/syscall and /proc/PID/mem */
	case K_FDS:
		/* /proc/PID/fd of another user's process: its mode, then PTRACE_MODE_READ */
		return PRIV_DAC_READ_SEARCH | PRIV_PTRACE;
	case K_HEAP_DUMP:
		return 0; /* only over the JVM's attach socket: jvm_bits() */
	case K_CORE:
		return PRIV_PTRACE; /* PTRACE_SEIZE, /proc/PID/mem */
	case K_COMMAND:
		/* A command capture inspects the target (jcmd, gdb, ls /proc/PID/fd):
		 * a root child inherits the bounding set, so keep what it will need. */
		return PRIV_PTRACE | PRIV_DAC_READ_SEARCH;
	default:
		return 0;
	}
}

/*
 * On a JVM, stacks, heap, heap_dump and cpu go through the attach socket:
 * a JVM of another uid needs SIGQUIT (CAP_KILL), its 0600 socket
 * (CAP_DAC_OVERRIDE) and the removal of the files it wrote in its sticky
 * /tmp (CAP_FOWNER). They are broad, so only `jvm: true` keeps them; JVMs
 * are still detected without it, and attach works on those of hound's uid.
 */
static unsigned jvm_bits(enum capture_kind k, const struct target_conf *t)
{
	if (t->go_url || !t->jvm_on)
		return 0;
	if (k == K_STACKS || k == K_HEAP || k == K_CPU || k == K_HEAP_DUMP)
		return PRIV_KILL | PRIV_DAC_OVERRIDE | PRIV_FOWNER;
	return 0;
}

static void emit(need_fn fn, void *arg, const char *what, const char *target, unsigned bits,
		 const char *via)
{
	static const unsigned order[] = {PRIV_PTRACE, PRIV_PERFMON, PRIV_BPF, PRIV_UPROBE,
					 PRIV_DAC_READ_SEARCH,
					 PRIV_KILL, PRIV_DAC_OVERRIDE, PRIV_FOWNER};
	struct need n = {.what = what, .target = target};

	snprintf(n.via, sizeof(n.via), "%s", via);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(bits & order[i]))
			continue;
		n.bit = order[i];
		fn(&n, arg);
	}
}

static void note_kinds(const struct capture_list *cl, const char *via, const char **src,
		       char vias[][96])
{
	for (size_t i = 0; i < cl->n; i++) {
		enum capture_kind k = cl->items[i].kind;
		if ((unsigned)k < K_COUNT && !src[k]) {
			snprintf(vias[k], 96, "%s", via);
			src[k] = vias[k];
		}
	}
}

/* Calls fn once per (target, reason, privilege); each kind once, with its first source. */
static void each_need(const struct hound_config *cfg, need_fn fn, void *arg)
{
	for (size_t ti = 0; ti < cfg->ntargets; ti++) {
		const struct target_conf *t = &cfg->targets[ti];
		bool go = t->go_url != NULL;
		const char *src[K_COUNT] = {0};
		char vias[K_COUNT][96];
		char via[96];

		for (size_t ri = 0; ri < t->nrules; ri++) {
			snprintf(via, sizeof(via), "rule %s", t->rules[ri].name);
			note_kinds(&t->rules[ri].capture, via, src, vias);
		}
		for (size_t ai = 0; ai < cfg->nalerts; ai++) {
			const struct alert_route *r = &cfg->alerts[ai];
			if (r->target_label || (r->target && !strcmp(r->target, t->name)))
				note_kinds(&r->capture, "alert routes", src, vias);
		}
		if (cfg->api.enabled)
			for (int k = 0; k < K_COUNT; k++)
				if (!src[k] && k != K_COMMAND &&
				    (go || capture_kind_native(k) ||
				     (capture_kind_jvm_only((enum capture_kind)k) && !t->jvm_off)))
					src[k] = "API requests";
		for (int k = 0; k < K_COUNT; k++)
			if (src[k])
				emit(fn, arg, capture_kind_name(k), t->name,
				     kind_bits(k, go) | jvm_bits(k, t), src[k]);

		/* the native heap capture tracks malloc with eBPF uprobes unless malloc.enabled is false */
		if (src[K_HEAP] && !go && !t->malloc.disabled)
			emit(fn, arg, "heap (malloc tracking)", t->name, PRIV_BPF | PRIV_UPROBE,
			     src[K_HEAP]);
		if (t->match.exe)
			emit(fn, arg, "match.exe", t->name, PRIV_PTRACE, "the selector");
		for (size_t ri = 0; ri < t->nrules && !go && !t->jvm_off; ri++) {
			/* a JVM's PerfData file is 0600, owned by the JVM's user */
			if (!metric_jvm(t->rules[ri].metric))
				continue;
			snprintf(via, sizeof(via), "rule %s", t->rules[ri].name);
			emit(fn, arg, "the JVM metrics", t->name, PRIV_DAC_READ_SEARCH, via);
			break;
		}
		for (size_t ri = 0; ri < t->nrules; ri++) {
			if (t->rules[ri].metric != M_FDS)
				continue;
			snprintf(via, sizeof(via), "rule %s", t->rules[ri].name);
			emit(fn, arg, "the fds metric", t->name, PRIV_DAC_READ_SEARCH, via);
			break;
		}
		for (size_t ri = 0; ri < t->nrules; ri++) {
			if (t->rules[ri].metric != M_DEADLOCKED && t->rules[ri].metric != M_LOCK_WAIT)
				continue;
			snprintf(via, sizeof(via), "rule %s", t->rules[ri].name);
			emit(fn, arg, "the lock metrics", t->name, PRIV_PTRACE, via);
			break;
		}
		if (t->flight_recorder.enabled && !go)
			emit(fn, arg, "the flight recorder", t->name, PRIV_PERFMON | PRIV_PTRACE,
			     "flight_recorder");
	}
}

static void or_bit(const struct need *n, void *arg)
{
	*(unsigned *)arg |= n->bit;
}

unsigned privs_needed(const struct hound_config *cfg)
{
	unsigned bits = 0;
	each_need(cfg, or_bit, &bits);
	return bits;
}

/* ---- the process's capabilities ---- */

struct capset3 {
	uint64_t eff, prm, inh;
};

static int cap_get(struct capset3 *out)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	out->eff = d[0].effective | (uint64_t)d[1].effective << 32;
	out->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	out->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int cap_set(const struct capset3 *s)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	d[0].effective = (uint32_t)s->eff;
	d[1].effective = (uint32_t)(s->eff >> 32);
	d[0].permitted = (uint32_t)s->prm;
	d[1].permitted = (uint32_t)(s->prm >> 32);
	d[0].inheritable = (uint32_t)s->inh;
	d[1].inheritable = (uint32_t)(s->inh >> 32);
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* The highest capability number this kernel knows. */
static int cap_last(void)
{
	char *s = NULL;
	int last = CAP_PERFMON;

	if (util_read_file("/proc/sys/kernel/cap_last_cap", &s, NULL, 64) == 0) {
		last = atoi(s);
		free(s);
	}
	return last > 0 && last < 64 ? last : CAP_PERFMON;
}

/* Loading tracing BPF programs: CAP_BPF, or CAP_SYS_ADMIN on kernels before 5.8. */
static int bpf_cap(void)
{
	return cap_last() >= CAP_BPF ? CAP_BPF : CAP_SYS_ADMIN;
}

/* perf_event_open's privilege: CAP_PERFMON, or CAP_SYS_ADMIN on kernels before 5.8. */
static int perfmon_cap(void)
{
	return cap_last() >= CAP_PERFMON ? CAP_PERFMON : CAP_SYS_ADMIN;
}

static uint64_t bits_to_caps(unsigned bits)
{
	uint64_t m = 0;
	if (bits & PRIV_PTRACE)
		m |= UINT64_C(1) << CAP_SYS_PTRACE;
	if (bits & PRIV_PERFMON)
		m |= UINT64_C(1) << perfmon_cap();
	if (bits & PRIV_DAC_READ_SEARCH)
		m |= UINT64_C(1) << CAP_DAC_READ_SEARCH;
	if (bits & PRIV_BPF)
		m |= UINT64_C(1) << bpf_cap();
	if (bits & PRIV_UPROBE)
		m |= UINT64_C(1) << CAP_SYS_ADMIN;
	if (bits & PRIV_KILL)
		m |= UINT64_C(1) << CAP_KILL;
	if (bits & PRIV_DAC_OVERRIDE)
		m |= UINT64_C(1) << CAP_DAC_OVERRIDE;
	if (bits & PRIV_FOWNER)
		m |= UINT64_C(1) << CAP_FOWNER;
	return m;
}

static const char *cap_name(int c)
{
	switch (c) {
	case CAP_SYS_PTRACE:
		return "CAP_SYS_PTRACE";
	case CAP_PERFMON:
		return "CAP_PERFMON";
	case CAP_BPF:
		return "CAP_BPF";
	case CAP_SYS_ADMIN:
		return "CAP_SYS_ADMIN";
	case CAP_DAC_READ_SEARCH:
		return "CAP_DAC_READ_SEARCH";
	case CAP_KILL:
		return "CAP_KILL";
	case CAP_DAC_OVERRIDE:
		return "CAP_DAC_OVERRIDE";
	case CAP_FOWNER:
		return "CAP_FOWNER";
	default:
		return "?";
	}
}

static int bit_cap(unsigned bit)
{
	return bit == PRIV_PTRACE	? CAP_SYS_PTRACE
	       : bit == PRIV_PERFMON	? perfmon_cap()
	       : bit == PRIV_BPF	? bpf_cap()
	       : bit == PRIV_UPROBE	? CAP_SYS_ADMIN
	       : bit == PRIV_KILL	? CAP_KILL
	       : bit == PRIV_DAC_OVERRIDE ? CAP_DAC_OVERRIDE
	       : bit == PRIV_FOWNER	? CAP_FOWNER
					: CAP_DAC_READ_SEARCH;
}

/* ---- reporting what is missing ---- */

struct missing_ctx {
	uint64_t have;
	FILE *out; /* NULL: log warnings instead */
	int count;
};

static void on_need(const struct need *n, void *arg)
{
	struct missing_ctx *m = arg;
	int cap = bit_cap(n->bit);
	char extra[64] = "";
	int paranoid = -99;

	if (m->have & (UINT64_C(1) << cap))
		return;
	if (n->bit == PRIV_PERFMON) {
		char *p = NULL;
		if (util_read_file("/proc/sys/kernel/perf_event_paranoid", &p, NULL, 64) == 0) {
			paranoid = atoi(p);
			snprintf(extra, sizeof(extra), " (perf_event_paranoid=%d)", paranoid);
			free(p);
		}
	}
	if (n->bit == PRIV_BPF || n->bit == PRIV_UPROBE)
		snprintf(extra, sizeof(extra), " (or set malloc: {enabled: false})");
	m->count++;
	if (m->out)
		fprintf(m->out, "warning: %s for target %s needs %s%s, used by %s\n", n->what,
			n->target, cap_name(cap), extra, n->via);
	else if (paranoid != -99)
		log_warn("missing privilege",
			 "target=%s capture=%s needs=%s used_by=%s "
			 "perf_event_paranoid=%d",
			 n->target, n->what, cap_name(cap), n->via, paranoid);
	else
		log_warn("missing privilege", "target=%s capture=%s needs=%s used_by=%s", n->target,
			 n->what, cap_name(cap), n->via);
}

/* The API token must not be readable by other users: 1 when it is (and says so). */
static int report_token_mode(const struct hound_config *cfg, FILE *out)
{
	struct stat st;
	if (!cfg->api.enabled || !cfg->api.token_file || stat(cfg->api.token_file, &st) < 0 ||
	    !(st.st_mode & (S_IRGRP | S_IROTH)))
		return 0;
	unsigned mode = (unsigned)(st.st_mode & 07777);
	if (out)
		fprintf(out, "warning: api.token_file %s is readable by other users (mode %04o): "
			     "chmod 600 it (Kubernetes: defaultMode: 0400)\n",
			cfg->api.token_file, mode);
	else
		log_warn("API token file readable by other users", "file=%s mode=%04o",
			 cfg->api.token_file, mode);
	return 1;
}

static int report(const struct hound_config *cfg, FILE *out)
{
	struct capset3 cur;
	struct missing_ctx m = {.out = out};

	m.count = report_token_mode(cfg, out);
	if (cap_get(&cur) < 0)
		return m.count;
	m.have = cur.eff;
	each_need(cfg, on_need, &m);
	if (cfg->run_as_user && !(cur.eff & (UINT64_C(1) << CAP_SETUID))) {
		struct passwd *pw = getpwnam(cfg->run_as_user);
		if (!pw || pw->pw_uid != geteuid()) {
			m.count++;
			if (out)
				fprintf(out,
					"warning: user %s: switching to it needs root (CAP_SETUID, "
					"CAP_SETGID)\n",
					cfg->run_as_user);
			else
				log_warn("missing privilege", "user=%s needs=CAP_SETUID,CAP_SETGID",
					 cfg->run_as_user);
		}
	}
	return m.count;
}

int privs_report(const struct hound_config *cfg, FILE *out)
{
	return report(cfg, out);
}

int privs_log_missing(const struct hound_config *cfg)
{
	return report(cfg, NULL);
}

/* ---- dropping ---- */

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void caps_text(uint64_t caps, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (int c = 0; c < 64 && off < len; c++)
		if (caps & (UINT64_C(1) << c))
			off += snprintf(buf + off, len - off, "%s%s", off ? "," : "", cap_name(c));
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* Becomes pw's user and groups, keeping the permitted set (PR_SET_KEEPCAPS). */
static int switch_user(const struct hound_config *cfg, const struct passwd *pw, char *err,
		       size_t errlen)
{
	struct stat st;
	int rc;

	/* The spool must be the new user's: create it now, while we still can. */
	rc = util_mkdir_p(cfg->output, 0750);
	if (rc == 0 && stat(cfg->output, &st) < 0)
		rc = -errno;
	if (rc == 0 && st.st_uid != pw->pw_uid && chown(cfg->output, pw->pw_uid, pw->pw_gid) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "output %s: cannot give it to user %s: %s", cfg->output,
			 pw->pw_name, strerror(-rc));
		return rc;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
		return rc;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0) {
		rc = -errno;
		snprintf(err, errlen, "initgroups(%s): %s", pw->pw_name, strerror(errno));
		return rc;
	}
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0) {
		rc = -errno;
		snprintf(err, errlen, "setresgid(%d): %s", (int)pw->pw_gid, strerror(errno));
		return rc;
	}
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		rc = -errno;
		snprintf(err, errlen, "setresuid(%d): %s", (int)pw->pw_uid, strerror(errno));
		return rc;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

int privs_apply(const struct hound_config *cfg, char *err, size_t errlen)
{
	struct capset3 cur;
	struct passwd *pw = NULL;
	uint64_t keep, setpcap = UINT64_C(1) << CAP_SETPCAP;
	int rc, last = cap_last(), nbound = 0;
	char text[128];

	rc = count_threads();
	if (rc < 0) {
		snprintf(err, errlen, "opendir(/proc/self/task): %s", strerror(-rc));
		return rc;
	}
	if (rc != 1) {
		snprintf(err, errlen,
			 "capabilities are per thread: drop them before threads start (%d "
			 "threads)",
			 rc);
		return -EINVAL;
	}
	rc = cap_get(&cur);
	if (rc < 0) {
		snprintf(err, errlen, "capget: %s", strerror(-rc));
		return rc;
	}
	keep = bits_to_caps(privs_needed(cfg)) & cur.prm;
	privs_log_missing(cfg);

	if (cfg->run_as_user) {
		errno = 0;
		pw = getpwnam(cfg->run_as_user);
		if (!pw) {
			snprintf(err, errlen, "user %s: %s", cfg->run_as_user,
				 errno ? strerror(errno) : "no such user");
			return errno ? -errno : -ENOENT;
		}
		if (pw->pw_uid == getuid() && pw->pw_uid == geteuid() && pw->pw_gid == getgid())
			pw = NULL; /* already that user */
		else if ((cur.eff & (UINT64_C(1) << CAP_SETUID)) == 0 ||
			 (cur.eff & (UINT64_C(1) << CAP_SETGID)) == 0) {
			snprintf(err, errlen,
				 "user %s: switching to it needs root (CAP_SETUID and "
				 "CAP_SETGID)",
				 cfg->run_as_user);
			return -EPERM;
		}
	}

	/* The bounding set first: dropping from it needs CAP_SETPCAP, still ours. */
	for (int c = 0; c <= last; c++) {
		if ((keep & (UINT64_C(1) << c)) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (!(cur.eff & setpcap)) {
			nbound++; /* kept; no_new_privs below stops exec from using it */
			continue;
		}
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			rc = -errno;
			snprintf(err, errlen, "prctl(PR_CAPBSET_DROP, %d): %s", c, strerror(errno));
			return rc;
		}
	}
	if (pw) {
		rc = switch_user(cfg, pw, err, errlen);
		if (rc < 0)
			return rc;
	}
	/* Fails with EINVAL on kernels before 4.3, which have no ambient set to clear. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	struct capset3 next = {.eff = keep, .prm = keep, .inh = 0};
	rc = cap_set(&next);
	if (rc < 0) {
		snprintf(err, errlen, "capset: %s", strerror(-rc));
		return rc;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return rc;
	}
	/* Without CAP_DAC_OVERRIDE even uid 0 writes only where the owner lets it. */
	if (access(cfg->output, W_OK | X_OK) < 0 && errno != ENOENT) {
		struct stat st;
		rc = -errno;
		snprintf(err, errlen,
			 "output %s is not writable by uid %d without privileges (owner "
			 "uid %d): %s; run as its owner (user: in the config) or give it to uid %d",
			 cfg->output, (int)geteuid(),
			 stat(cfg->output, &st) == 0 ? (int)st.st_uid : -1, strerror(-rc),
			 (int)geteuid());
		return rc;
	}
	if (pw && cfg->path && access(cfg->path, R_OK) < 0)
		log_warn("config not readable after the user switch: SIGHUP reloads will fail",
			 "file=%s user=%s error=%s", cfg->path, pw->pw_name, strerror(errno));
	caps_text(keep, text, sizeof(text));
	log_info("privileges dropped", "user=%s uid=%d keep=%s bounding_kept_extra=%d",
		 pw ? pw->pw_name : "(unchanged)", (int)geteuid(), text, nbound);
	return 0;
}
