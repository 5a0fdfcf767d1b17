/*
 * cpu_flightrec: runs the flight recorder on one PID for a while and prints its
 * cost, for bench/cpu.sh:
 *   cpu_flightrec PID RATE_HZ KEEP_S SECONDS OUTDIR
 * prints "cpu_s X rss_kib Y ring_bytes Z samples N" after writing
 * OUTDIR/cpu.before.pb.gz.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "capture/native/flightrec.h"
#include "lib/util.h"

int main(int argc, char **argv)
{
	flightrec *f;
	struct rusage ru;
	struct timespec ts;
	char err[256];
	int rc;

	if (argc != 6) {
		fprintf(stderr, "usage: cpu_flightrec PID RATE_HZ KEEP_S SECONDS OUTDIR\n");
		return 2;
	}
	rc = flightrec_new(atoi(argv[1]), atof(argv[2]), (int64_t)(atof(argv[3]) * 1000), &f);
	if (rc < 0) {
		fprintf(stderr, "flightrec_new: %d\n", rc);
		return 1;
	}
	ts.tv_sec = atoi(argv[4]);
	ts.tv_nsec = 0;
	nanosleep(&ts, NULL);
	getrusage(RUSAGE_SELF, &ru);
	printf("cpu_s %.4f rss_kib %ld ring_bytes %zu samples %llu\n",
	       (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
		   ru.ru_stime.tv_usec / 1e6,
	       ru.ru_maxrss, flightrec_memory(f), (unsigned long long)flightrec_samples(f));
	if (flightrec_write(f, argv[5], util_mono_ms(), err, sizeof(err)) < 0)
		fprintf(stderr, "flightrec_write: %s\n", err);
	flightrec_free(f);
	return 0;
}
