/*
 * bench/locks: the cost of one lock-graph scan (the `deadlocked` and
 * `lock_wait` metrics) of one process, against its peer, reading every
 * thread's /proc/PID/task/TID/stat once (open, read, close), measured
 * interleaved in the same run.
 *
 *   bench/locks -p PID [-r ROUNDS] [-s SCANS]
 * Prints one Markdown row: threads, waiters, µs per scan (best / median of
 * ROUNDS), µs for the stat peer (best / median), and their ratio.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/native/lockgraph.h"
#include "lib/util.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The peer: every thread's stat file, as a reader of per-thread state must do. */
static size_t read_stats(pid_t pid)
{
	char path[64], buf[1024];
	size_t n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char p[300];
		snprintf(p, sizeof(p), "%s/stat", e->d_name);
		int fd = openat(dirfd(d), p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, buf, sizeof(buf)) > 0)
			n++;
		close(fd);
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	pid_t pid = 0;
	int rounds = 7, scans = 50, opt;
	char err[256];

	while ((opt = getopt(argc, argv, "p:r:s:")) != -1) {
		if (opt == 'p')
			pid = atoi(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 's')
			scans = atoi(optarg);
		else
			return 2;
	}
	if (pid <= 0 || rounds < 1 || scans < 1) {
		fprintf(stderr, "usage: locks -p PID [-r ROUNDS] [-s SCANS]\n");
		return 2;
	}
	lockgraph *g;
	if (lockgraph_open(pid, &g) < 0 || lockgraph_scan(g, util_mono_ms(), err, sizeof(err)) < 0) {
		fprintf(stderr, "locks: cannot scan %d: %s\n", (int)pid, err);
		return 1;
	}
	double *ours = calloc((size_t)rounds, sizeof(double)), *peer = calloc((size_t)rounds, sizeof(double));
	size_t nthreads = 0, nwait = 0;
	for (int r = 0; r < rounds; r++) {
		/* Interleaved, so both see the same machine. */
		int64_t t0 = util_mono_ns();
		for (int i = 0; i < scans; i++)
			lockgraph_scan(g, util_mono_ms(), err, sizeof(err));
		int64_t t1 = util_mono_ns();
		for (int i = 0; i < scans; i++)
			nthreads = read_stats(pid);
		int64_t t2 = util_mono_ns();
		ours[r] = (double)(t1 - t0) / 1000.0 / scans;
		peer[r] = (double)(t2 - t1) / 1000.0 / scans;
	}
	lockgraph_waiters(g, &nwait);
	qsort(ours, (size_t)rounds, sizeof(double), cmp_double);
	qsort(peer, (size_t)rounds, sizeof(double), cmp_double);
	printf("| %zu | %zu | %zu | %.0f / %.0f | %.0f / %.0f | %.2fx / %.2fx |\n", nthreads, nwait,
	       lockgraph_deadlocked(g), ours[0], ours[rounds / 2], peer[0], peer[rounds / 2],
	       ours[0] / peer[0], ours[rounds / 2] / peer[rounds / 2]);
	lockgraph_free(g);
	free(ours);
	free(peer);
	return 0;
}
