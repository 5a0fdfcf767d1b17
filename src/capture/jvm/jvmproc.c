/*
 * jvmproc: finds a JVM's files the way the JVM itself names them. Inside a
 * container the JVM sees its own PID (the last NSpid) and its own /tmp, so
 * every path goes through /proc/PID/root with that PID; the file must belong
 * to the JVM's uid, so a file planted in a shared /tmp is not trusted.
 */
#include "capture/jvm/jvmproc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"

static const char *line_value(const char *buf, size_t len, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = buf, *end = buf + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if ((size_t)(le - p) > k && memcmp(p, key, k) == 0 && p[k] == ':')
			return p + k + 1;
		p = le + 1;
	}
	return NULL;
}

int jvm_parse_status(const char *buf, size_t len, struct jvm_proc *out)
{
	const char *pid = line_value(buf, len, "Pid"), *ns = line_value(buf, len, "NSpid");
	const char *uid = line_value(buf, len, "Uid"), *gid = line_value(buf, len, "Gid");
	const char *sig = line_value(buf, len, "SigCgt");
	unsigned long a, b;

	out->sigcgt = 0;
	if (!pid || !uid || sscanf(pid, "%lu", &a) != 1)
		return -EINVAL;
	out->pid = (pid_t)a;
	out->nspid = out->pid;
	if (ns) {
		/* NSpid lists the PID from the outermost namespace inward: take the last */
		const char *end = memchr(ns, '\n', (size_t)(buf + len - ns));
		const char *p = ns;
		if (!end)
			end = buf + len;
		while (p < end) {
			char *e;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if (p >= end)
				break;
			unsigned long v = strtoul(p, &e, 10);
			if (e == p || e > end)
				break;
			out->nspid = (pid_t)v;
			p = e;
		}
	}
	/* Uid: real effective saved fs */
	if (sscanf(uid, "%lu %lu", &a, &b) != 2)
		return -EINVAL;
	out->uid = (uid_t)b;
	if (gid && sscanf(gid, "%lu %lu", &a, &b) == 2)
		out->gid = (gid_t)b;
	if (sig)
		out->sigcgt = strtoull(sig, NULL, 16);
	return 0;
}

static unsigned flags_in(const char *s, size_t n)
{
	static const struct {
		const char *opt;
		unsigned bit;
	} opts[] = {
		{"-Xrs", JVM_FLAG_XRS},
		{"-XX:+ReduceSignalUsage", JVM_FLAG_XRS},
		{"-XX:+DisableAttachMechanism", JVM_FLAG_NO_ATTACH},
		{"-XX:-UsePerfData", JVM_FLAG_NO_PERFDATA},
		{"-XX:+PerfDisableSharedMem", JVM_FLAG_PERF_NO_SHM},
	};
	unsigned f = 0;
	for (size_t i = 0; i < ARRAY_LEN(opts); i++) {
		size_t k = strlen(opts[i].opt);
		for (size_t j = 0; j + k <= n; j++) {
			/* a whole option: starts at a separator, ends at one */
			if ((j == 0 || s[j - 1] == ' ' || s[j - 1] == '=' || s[j - 1] == '\0') &&
			    memcmp(s + j, opts[i].opt, k) == 0 &&
			    (j + k == n || s[j + k] == ' ' || s[j + k] == '\0')) {
				f |= opts[i].bit;
				break;
			}
		}
	}
	return f;
}

unsigned jvm_parse_flags(const char *buf, size_t len, bool environ)
{
	unsigned f = 0;
	for (const char *p = buf, *end = buf + len; p < end;) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);
		if (!environ || util_str_has_prefix(p, "JAVA_TOOL_OPTIONS=") ||
		    util_str_has_prefix(p, "JDK_JAVA_OPTIONS=") || util_str_has_prefix(p, "_JAVA_OPTIONS="))
			f |= flags_in(p, n);
		p += n + 1;
	}
	return f;
}

static int read_proc(pid_t pid, const char *name, char *buf, size_t cap, size_t *len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = util_read_full(fd, buf, cap - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	*len = (size_t)n;
	return 0;
}

static bool maps_libjvm(pid_t pid)
{
	char path[64], line[4096];
	bool found = false;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libjvm.so") != NULL;
	fclose(f);
	return found;
}

/* /proc/PID/root/tmp/hsperfdata_<any user>/NSPID, owned by the JVM's uid. */
static void find_perf(struct jvm_proc *j)
{
	char tmp[64], name[32];
	snprintf(tmp, sizeof(tmp), "/proc/%d/root/tmp", (int)j->pid);
	snprintf(name, sizeof(name), "%d", (int)j->nspid);
	DIR *d = opendir(tmp);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char rel[300];
		if (!util_str_has_prefix(de->d_name, "hsperfdata_"))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", de->d_name, name);
		if (fstatat(dirfd(d), rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_uid != j->uid)
			continue;
		snprintf(j->perf_path, sizeof(j->perf_path), "%s/%s", tmp, rel);
		j->has_perf = true;
		break;
	}
	closedir(d);
}

int jvm_proc_probe(pid_t pid, bool check_maps, struct jvm_proc *out)
{
	char buf[8192];
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_proc(pid, "status", buf, sizeof(buf), &len);
	if (rc < 0)
		return rc == -ENOENT ? -ESRCH : rc;
	rc = jvm_parse_status(buf, len, out);
	if (rc < 0)
		return rc;
	out->pid = pid;
	find_perf(out);
	if (check_maps || !out->has_perf)
		out->libjvm = check_maps && maps_libjvm(pid);
	/* The options live in argv and in the environment the launcher reads. */
	char *big = xmalloc(256 * 1024);
	if (read_proc(pid, "cmdline", big, 256 * 1024, &len) == 0)
		out->flags |= jvm_parse_flags(big, len, false);
	if (read_proc(pid, "environ", big, 256 * 1024, &len) == 0)
		out->flags |= jvm_parse_flags(big, len, true);
	free(big);
	return 0;
}

bool jvm_proc_is_jvm(const struct jvm_proc *j)
{
	return j->has_perf || j->libjvm;
}

const char *jvm_proc_no_perf_reason(const struct jvm_proc *j)
{
	if (j->flags & JVM_FLAG_NO_PERFDATA)
		return "JVM started with -XX:-UsePerfData: no GC or heap metrics without attaching";
	if (j->flags & JVM_FLAG_PERF_NO_SHM)
		return "JVM started with -XX:+PerfDisableSharedMem: its PerfData is not in a file, "
		       "no GC or heap metrics without attaching";
	return "JVM without a PerfData file in its /tmp/hsperfdata_USER (-XX:-UsePerfData, "
	       "-XX:+PerfDisableSharedMem, or /tmp not writable): no GC or heap metrics";
}
