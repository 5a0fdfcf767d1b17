/*
 * bench/sample: cost of one process-sample in hound's sampler next to the
 * floor (pread of the same /proc files through kept-open fds, no parsing) and
 * libproc2 (procps_pids_reap over the whole system, procps_pids_select over
 * the targets), all in one run. Also the sampler's RSS with the targets open
 * and a soak of many process-samples with handle churn and rescans.
 *
 *   sample -f PIDFILE -n N [-s SOAK_SAMPLES]
 *   sample -d
 * PIDFILE lists at least N pids (one per line) of live processes. Prints
 * markdown table rows on stdout. -d measures discovery instead: one scan of
 * every process on the system by hound's procs_scan (first scan and steady
 * state), its floor (listing /proc and reading each process's stat, what a
 * scan must do to see new and exec'd processes) and libproc2 reading the
 * fields discovery used to take from it (stat, status, cmdline).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libproc2/pids.h>

#include "agent/proc.h"
#include "agent/procs.h"
#include "lib/util.h"

#define FULL_MASK  PROC_NATIVE_MASK
#define BASIC_MASK (METRIC_BIT(M_CPU) | METRIC_BIT(M_RSS) | METRIC_BIT(M_THREADS))
#define REPS	   7

static pid_t *pids;
static int npids;

static double median(double *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

static long self_rss_kib(void)
{
	char *buf, *p;
	size_t len;
	long kib = -1;

	if (util_read_file("/proc/self/status", &buf, &len, 1 << 16) < 0)
		return -1;
	p = strstr(buf, "VmRSS:");
	if (p)
		kib = strtol(p + 6, NULL, 10);
	free(buf);
	return kib;
}

/* ---- hound ---- */

static double hound_ns(proc_handle **h, host_sampler *host, uint64_t mask, int rounds)
{
	struct proc_sample s;
	int64_t t0 = util_mono_ns();

	for (int r = 0; r < rounds; r++) {
		host_sampler_refresh(host);
		for (int i = 0; i < npids; i++)
			if (proc_handle_sample(h[i], host, mask, util_mono_ms(), util_wall_ms(),
					       &s) < 0)
				fprintf(stderr, "sample: pid %d gone\n", (int)pids[i]);
	}
	return (double)(util_mono_ns() - t0) / ((double)rounds * npids);
}

/* ---- floor: pread the same files through kept fds ---- */

struct floor_fds {
	int stat, statm, status, schedstat, fd;
};

static double floor_ns(struct floor_fds *f, int host_fds[3], bool full, int rounds)
{
	char buf[4096];
	char dents[8192] __attribute__((aligned(8)));
	int64_t t0 = util_mono_ns();
	volatile ssize_t sink = 0;

	for (int r = 0; r < rounds; r++) {
		/* host files, as host_sampler_refresh reads them once per tick */
		for (int k = 0; k < 3; k++)
			sink += pread(host_fds[k], buf, 512, 0);
		for (int i = 0; i < npids; i++) {
			sink += pread(f[i].stat, buf, 1024, 0);
			sink += pread(f[i].statm, buf, sizeof(buf), 0);
			if (!full)
				continue;
			sink += pread(f[i].status, buf, sizeof(buf), 0);
			sink += pread(f[i].schedstat, buf, sizeof(buf), 0);
			lseek(f[i].fd, 0, SEEK_SET);
			while ((sink = getdents64(f[i].fd, dents, sizeof(dents))) > 0)
				;
		}
	}
	(void)sink;
	return (double)(util_mono_ns() - t0) / ((double)rounds * npids);
}

static int open_at_pid(pid_t pid, const char *name, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	return open(path, flags | O_RDONLY | O_CLOEXEC);
}

/* ---- libproc2 ---- */

static enum pids_item full_items[] = {PIDS_TICS_ALL, PIDS_MEM_RES, PIDS_VM_RSS_ANON, PIDS_NLWP,
				      PIDS_TICS_BEGAN};
static enum pids_item basic_items[] = {PIDS_TICS_ALL, PIDS_MEM_RES, PIDS_NLWP, PIDS_TICS_BEGAN};

/* About 20,000 process reads, whatever the number of processes on the system. */
static double reap_ns(bool full)
{
	struct pids_info *info = NULL;
	struct pids_fetch *first;
	int64_t t0;
	long total = 0;
	int rounds;

	if (procps_pids_new(&info, full ? full_items : basic_items,
			    full ? (int)ARRAY_LEN(full_items) : (int)ARRAY_LEN(basic_items)) < 0)
		return -1;
	first = procps_pids_reap(info, PIDS_FETCH_TASKS_ONLY);
	rounds = first && first->counts->total ? 20000 / first->counts->total : 1;
	if (rounds < 3)
		rounds = 3;
	t0 = util_mono_ns();
	for (int r = 0; r < rounds; r++) {
		struct pids_fetch *f = procps_pids_reap(info, PIDS_FETCH_TASKS_ONLY);
		total += f ? f->counts->total : 0;
	}
	double ns = (double)(util_mono_ns() - t0) / (double)(total ? total : 1);
	procps_pids_unref(&info);
	return ns;
}

static double select_ns(bool full, int rounds)
{
	struct pids_info *info = NULL;
	unsigned *these = xcalloc((size_t)npids, sizeof(*these));
	int64_t t0;
	long total = 0;

	for (int i = 0; i < npids; i++)
		these[i] = (unsigned)pids[i];
	if (procps_pids_new(&info, full ? full_items : basic_items,
			    full ? (int)ARRAY_LEN(full_items) : (int)ARRAY_LEN(basic_items)) < 0)
		return -1;
	t0 = util_mono_ns();
	for (int r = 0; r < rounds; r++) {
		/* select takes at most 255 pids per call (FILL_ID_MAX) */
		for (int off = 0; off < npids; off += 255) {
			int n = npids - off < 255 ? npids - off : 255;
			struct pids_fetch *f =
			    procps_pids_select(info, these + off, n, PIDS_SELECT_PID);
			total += f ? f->counts->total : 0;
		}
	}
	double ns = (double)(util_mono_ns() - t0) / (double)(total ? total : 1);
	procps_pids_unref(&info);
	free(these);
	return ns;
}

/* ---- discovery ---- */

static void count_cb(const struct proc_ident *id, void *arg);

/* Numeric entries of /proc: every process, kernel threads included. */
static long count_procs(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	long n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
	if (d)
		closedir(d);
	return n;
}

/*
 * rounds procs_scan_run calls; ns per process listed in /proc (kernel
 * threads are read too, then left out of the callbacks), like the floor.
 */
static double scan_ns(procs_scan *scan, int rounds, long *procs)
{
	long seen = 0, listed = count_procs();
	int64_t t0 = util_mono_ns();

	for (int r = 0; r < rounds; r++)
		procs_scan_run(scan, count_cb, &seen);
	*procs = listed;
	return (double)(util_mono_ns() - t0) / ((double)listed * rounds);
}

/* The floor: list /proc, read every numeric entry's stat; ns per process. */
static double scan_floor_ns(int rounds)
{
	char buf[1024], path[300];
	long seen = 0;
	int64_t t0 = util_mono_ns();
	int pfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	for (int r = 0; r < rounds; r++) {
		DIR *d = fdopendir(dup(pfd));
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "%s/stat", de->d_name);
			int fd = openat(pfd, path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			if (read(fd, buf, sizeof(buf)) > 0)
				seen++;
			close(fd);
		}
		if (d)
			closedir(d);
	}
	close(pfd);
	return (double)(util_mono_ns() - t0) / (double)(seen ? seen : 1);
}

/* libproc2 with the items discovery took from it before; ns per process. */
static double scan_libproc2_ns(int rounds)
{
	enum pids_item items[] = {PIDS_ID_PID, PIDS_TICS_BEGAN, PIDS_ID_EUID,  PIDS_CMD,
				  PIDS_FLAGS,  PIDS_STATE,	PIDS_CMDLINE_V};
	struct pids_info *info = NULL;
	long total = 0;
	int64_t t0;

	if (procps_pids_new(&info, items, (int)ARRAY_LEN(items)) < 0)
		return -1;
	procps_pids_reap(info, PIDS_FETCH_TASKS_ONLY);
	t0 = util_mono_ns();
	for (int r = 0; r < rounds; r++) {
		struct pids_fetch *f = procps_pids_reap(info, PIDS_FETCH_TASKS_ONLY);
		total += f ? f->counts->total : 0;
	}
	double ns = (double)(util_mono_ns() - t0) / (double)(total ? total : 1);
	procps_pids_unref(&info);
	return ns;
}

static int discovery(void)
{
	double first[REPS], steady[REPS], fl[REPS], lp[REPS];
	long procs = 0;
	int rounds = 20;

	for (int k = 0; k < REPS; k++) {
		procs_scan *scan = NULL;
		if (procs_scan_new("/proc", PROCS_NEED_CMDLINE, &scan) < 0)
			return 1;
		first[k] = scan_ns(scan, 1, &procs);
		steady[k] = scan_ns(scan, rounds, &procs);
		procs_scan_free(scan);
		fl[k] = scan_floor_ns(rounds);
		lp[k] = scan_libproc2_ns(rounds);
	}
	double sm = median(steady, REPS), fm = median(fl, REPS);
	printf("| %ld | %.2f / %.2f | %.2f / %.2f | %.2fx / %.2fx | %.2f | %.2f |\n", procs,
	       steady[0] / 1e3, sm / 1e3, fl[0] / 1e3, fm / 1e3, steady[0] / fl[0], sm / fm,
	       median(first, REPS) / 1e3, median(lp, REPS) / 1e3);
	return 0;
}

/* ---- soak ---- */

static void count_cb(const struct proc_ident *id, void *arg)
{
	(void)id;
	(*(long *)arg)++;
}

static void soak(proc_handle **h, host_sampler *host, long samples, bool rescan)
{
	long done = 0, seen = 0, next_mark = 0;
	int64_t t0 = util_mono_ns();
	long rss0 = -1, rss_mid = -1;
	procs_scan *scan = NULL;
	struct proc_sample s;
	int round = 0;

	if (procs_scan_new("/proc", PROCS_NEED_CMDLINE, &scan) < 0)
		return;
	printf("\nsoak: %ld process-samples over %d processes (full mask; every round "
	       "reopens 1%% of the handles%s)\n\n",
	       samples, npids, rescan ? "; every 10th round a discovery rescan" : "; no rescans");
	printf("| process-samples | hound RSS (KiB) | malloc in use (KiB) |\n|---:|---:|---:|\n");
	while (done < samples) {
		host_sampler_refresh(host);
		for (int i = 0; i < npids && done < samples; i++, done++)
			proc_handle_sample(h[i], host, FULL_MASK, util_mono_ms(), util_wall_ms(),
					   &s);
		for (int i = round % 100; i < npids; i += 100) {
			proc_handle_free(h[i]);
			h[i] = NULL;
			if (proc_handle_open("/proc", "/sys/fs/cgroup", pids[i], 0, &h[i]) < 0) {
				fprintf(stderr, "soak: reopen of %d failed\n", (int)pids[i]);
				exit(1);
			}
		}
		if (rescan && round % 10 == 0)
			procs_scan_run(scan, count_cb, &seen);
		round++;
		if (done >= next_mark) {
			long rss = self_rss_kib();
			if (rss0 < 0 && done > 0)
				rss0 = rss;
			if (done >= samples / 2 && rss_mid < 0)
				rss_mid = rss;
			printf("| %ld | %ld | %zu |\n", done, rss, mallinfo2().uordblks / 1024);
			next_mark += samples / 10;
		}
	}
	long rss1 = self_rss_kib();
	double secs = (double)(util_mono_ns() - t0) / 1e9;
	printf("| %ld | %ld | %zu |\n\n", done, rss1, mallinfo2().uordblks / 1024);
	printf("soak: %.1f s, %.0f process-samples/s; RSS after the first round %ld KiB, at the "
	       "end %ld KiB: slope %.3f KiB per 100k process-samples (second half: %.3f)\n",
	       secs, (double)done / secs, rss0, rss1, (double)(rss1 - rss0) / ((double)done / 1e5),
	       (double)(rss1 - rss_mid) / ((double)done / 2e5));
	procs_scan_free(scan);
}

int main(int argc, char **argv)
{
	const char *pidfile = NULL;
	long soak_samples = 0;
	int opt, want = 0;
	FILE *fp;
	host_sampler *host = NULL;
	int host_fds[3];

	while ((opt = getopt(argc, argv, "df:n:s:")) != -1) {
		if (opt == 'd')
			return discovery();
		if (opt == 'f')
			pidfile = optarg;
		else if (opt == 'n')
			want = atoi(optarg);
		else if (opt == 's')
			soak_samples = atol(optarg);
		else
			return 2;
	}
	if (!pidfile || want <= 0 || !(fp = fopen(pidfile, "r"))) {
		fprintf(stderr, "usage: sample -f PIDFILE -n N [-s SOAK_SAMPLES]\n");
		return 2;
	}
	pids = xcalloc((size_t)want, sizeof(*pids));
	while (npids < want && fscanf(fp, "%d", &pids[npids]) == 1)
		npids++;
	fclose(fp);
	if (npids < want) {
		fprintf(stderr, "sample: %s holds only %d pids\n", pidfile, npids);
		return 2;
	}
	proc_raise_nofile_limit();

	long rss_base = self_rss_kib();
	proc_handle **h = xcalloc((size_t)npids, sizeof(*h));
	struct floor_fds *f = xcalloc((size_t)npids, sizeof(*f));
	if (host_sampler_new("/proc", &host) < 0)
		return 1;
	for (int i = 0; i < npids; i++) {
		int r = proc_handle_open("/proc", "/sys/fs/cgroup", pids[i], 0, &h[i]);
		if (r < 0) {
			fprintf(stderr, "sample: open %d: %s\n", (int)pids[i], strerror(-r));
			return 1;
		}
		f[i].stat = open_at_pid(pids[i], "stat", 0);
		f[i].statm = open_at_pid(pids[i], "statm", 0);
		f[i].status = open_at_pid(pids[i], "status", 0);
		f[i].schedstat = open_at_pid(pids[i], "schedstat", 0);
		f[i].fd = open_at_pid(pids[i], "fd", O_DIRECTORY);
		if (f[i].stat < 0 || f[i].fd < 0) {
			fprintf(stderr, "sample: floor open %d: %s\n", (int)pids[i],
				strerror(errno));
			return 1;
		}
	}
	host_fds[0] = open("/proc/meminfo", O_RDONLY);
	host_fds[1] = open("/proc/pressure/cpu", O_RDONLY);
	host_fds[2] = open("/proc/pressure/memory", O_RDONLY);

	int rounds = 100000 / npids < 20 ? 20 : 100000 / npids;
	/* warm up: lazy opens and first deltas */
	hound_ns(h, host, FULL_MASK, 2);
	floor_ns(f, host_fds, true, 2);

	for (int full = 1; full >= 0; full--) {
		double hv[REPS], fv[REPS], rv[REPS], sv[REPS];
		for (int k = 0; k < REPS; k++) {
			hv[k] = hound_ns(h, host, full ? FULL_MASK : BASIC_MASK, rounds);
			fv[k] = floor_ns(f, host_fds, full, rounds);
			rv[k] = reap_ns(full);
			sv[k] = select_ns(full, rounds / 5 + 1);
		}
		/* median() sorts, so v[0] is then the best run */
		double hm = median(hv, REPS), fm = median(fv, REPS);
		printf("| %d | %s | %.2f / %.2f | %.2f / %.2f | %.2fx / %.2fx | %.2f | %.2f |\n",
		       npids, full ? "full (10 metrics)" : "basic (cpu, rss, threads)", hv[0] / 1e3,
		       hm / 1e3, fv[0] / 1e3, fm / 1e3, hv[0] / fv[0], hm / fm,
		       median(rv, REPS) / 1e3, median(sv, REPS) / 1e3);
		fflush(stdout);
	}
	long rss_open = self_rss_kib();
	int nfds = 0;
	for (int i = 0; i < npids; i++)
		nfds += proc_handle_nfds(h[i]);
	printf("\nrss: %d processes open and sampled: bench process VmRSS %ld KiB (%ld KiB before "
	       "opening them); %d fds kept by the sampler\n",
	       npids, rss_open, rss_base, nfds);

	for (int i = 0; i < npids; i++) {
		close(f[i].stat);
		close(f[i].statm);
		close(f[i].status);
		close(f[i].schedstat);
		close(f[i].fd);
	}
	if (soak_samples > 0) {
		soak(h, host, soak_samples, false);
		soak(h, host, soak_samples, true);
	}
	for (int i = 0; i < npids; i++)
		proc_handle_free(h[i]);
	host_sampler_free(host);
	free(h);
	free(f);
	free(pids);
	return 0;
}
