/*
 * execrace: a target that calls exec in the middle of a stacks capture, the
 * way a process re-executing itself (or a shell script's last command) can.
 *
 *   execrace [-n N]
 *     N idle threads (default 100) plus a watcher; once the main thread has
 *     been stopped by a tracer and released again (its stack captured), the
 *     watcher execs /bin/sleep 1000, which ends every other thread before the
 *     capture reaches them. Prints "ready" once every thread is parked.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int nready;

static void *idle(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	nready++;
	pthread_cond_broadcast(&cv);
	for (;;)
		pthread_cond_wait(&cv, &mu);
	return NULL;
}

/* The main thread's TracerPid, or -1. */
static int tracer(const char *path)
{
	char buf[2048];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strstr(buf, "TracerPid:");
	return p ? atoi(p + 10) : -1;
}

static void *watcher(void *arg)
{
	char path[64];
	(void)arg;
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", getpid());
	pthread_mutex_lock(&mu);
	nready++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	while (tracer(path) <= 0)
		;
	while (tracer(path) > 0)
		;
	execl("/bin/sleep", "sleep", "1000", (char *)NULL);
	perror("execl");
	_exit(1);
}

int main(int argc, char **argv)
{
	long n = 100;
	pthread_t t;
	if (argc == 3 && strcmp(argv[1], "-n") == 0)
		n = atol(argv[2]);
	for (long i = 0; i < n; i++)
		if (pthread_create(&t, NULL, idle, NULL) != 0)
			return 1;
	if (pthread_create(&t, NULL, watcher, NULL) != 0)
		return 1;
	pthread_mutex_lock(&mu);
	while (nready < n + 1)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
