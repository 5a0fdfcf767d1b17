/*
 * ptrace_holder: plays a debugger that is already attached. Seizes every
 * thread of PID with PTRACE_SEIZE (they keep running), prints "held N" and
 * waits until killed; its exit releases them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: ptrace_holder PID\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%s/task", argv[1]);
	d = opendir(path);
	if (!d) {
		perror(path);
		return 1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (ptrace(PTRACE_SEIZE, atoi(de->d_name), 0, 0) == 0)
			n++;
		else
			perror("ptrace(PTRACE_SEIZE)");
	}
	closedir(d);
	printf("held %d\n", n);
	fflush(stdout);
	for (;;)
		pause();
}
