/*
 * core_target: a multithreaded process for the core dump tests and
 * bench/core.sh. Usage: core_target [-m MIB] [-t THREADS] [-b HEARTBEAT_FILE] [-l PORT]
 * -m touches MIB of heap; -t starts workers parked in distinct named
 * functions (so a debugger's backtrace can be checked); -b runs a heartbeat
 * thread that sleeps 1 ms at a time and writes the longest gap it saw (the
 * longest freeze as the process itself felt it) to the file on SIGUSR1;
 * -l accepts on 127.0.0.1:PORT and counts bytes read from clients on stdout;
 * -s runs under a seccomp filter (one that allows everything).
 * Prints "ready" when set up.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t dump_gap;
static const char *gap_file;
static volatile unsigned long spin_counter;
static pthread_mutex_t park = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void core_target_parked_in_cond(void);
void core_target_spinning(void);

__attribute__((noinline)) void core_target_parked_in_cond(void)
{
	pthread_mutex_lock(&park);
	for (;;)
		pthread_cond_wait(&never, &park);
}

__attribute__((noinline)) void core_target_spinning(void)
{
	for (;;)
		spin_counter++;
}

static void *worker(void *arg)
{
	if ((long)arg % 2)
		core_target_spinning();
	else
		core_target_parked_in_cond();
	return NULL;
}

static void on_usr1(int s)
{
	(void)s;
	dump_gap = 1;
}

static void *heartbeat(void *arg)
{
	long long last = now_ns(), worst = 0;
	(void)arg;
	for (;;) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		long long t = now_ns();
		if (t - last > worst)
			worst = t - last;
		last = t;
		if (dump_gap) {
			FILE *f = fopen(gap_file, "w");
			if (f) {
				fprintf(f, "%lld\n", worst / 1000);
				fclose(f);
			}
			dump_gap = 0;
			worst = 0;
			last = now_ns();
		}
	}
	return NULL;
}

static void allow_all_filter(void)
{
	struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog prog = {1, f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		perror("seccomp");
		exit(1);
	}
}

static void serve(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0) {
		perror("bind");
		exit(1);
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		char buf[4096];
		ssize_t n;
		long long total = 0;
		if (c < 0)
			continue;
		while ((n = read(c, buf, sizeof(buf))) > 0)
			total += n;
		printf("read %lld\n", total);
		fflush(stdout);
		close(c);
	}
}

int main(int argc, char **argv)
{
	long mib = 0, threads = 2, port = 0;
	int o;
	pthread_t t;

	while ((o = getopt(argc, argv, "m:t:b:l:s")) != -1) {
		if (o == 's')
			allow_all_filter();
		if (o == 'm')
			mib = atol(optarg);
		else if (o == 't')
			threads = atol(optarg);
		else if (o == 'b')
			gap_file = optarg;
		else if (o == 'l')
			port = atol(optarg);
	}
	if (mib) {
		size_t n = (size_t)mib << 20;
		unsigned char *p = malloc(n);
		for (size_t i = 0; i < n; i += 4096)
			p[i] = (unsigned char)(i >> 12) | 1; /* not zero: a real page each */
	}
	for (long i = 0; i < threads; i++)
		pthread_create(&t, NULL, worker, (void *)i);
	if (gap_file) {
		signal(SIGUSR1, on_usr1);
		pthread_create(&t, NULL, heartbeat, NULL);
	}
	printf("ready\n");
	fflush(stdout);
	if (port)
		serve((int)port);
	for (;;)
		pause();
}
