/*
 * mainexit: a process whose main thread has exited (pthread_exit) while two
 * threads go on: one burns CPU in spin_in_worker, one sleeps in
 * idle_in_worker. /proc/PID/maps and /proc/PID/exe of such a process are
 * empty or unreadable; its live threads' are not. Prints "ready" once the
 * main thread is about to exit.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

static volatile uint64_t sink;

NOINLINE static void spin_in_worker(void)
{
	for (;;) {
		for (int i = 0; i < 1000000; i++)
			sink = sink * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" ::: "memory");
	}
}

NOINLINE static void idle_in_worker(void)
{
	for (;;)
		sleep(1);
}

static void *spinner(void *arg)
{
	(void)arg;
	spin_in_worker();
	return NULL;
}

static void *idler(void *arg)
{
	(void)arg;
	idle_in_worker();
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	pthread_create(&a, NULL, spinner, NULL);
	pthread_create(&b, NULL, idler, NULL);
	printf("ready\n");
	fflush(stdout);
	pthread_exit(NULL);
}
