/*
 * A two-process tree with many fds, for the fdinfo read-ahead of dumps
 * (dumps of processes with 1,024 fds or more read fdinfo on a helper thread).
 *
 *   many_fds READY_FILE N
 *
 * The parent opens N eventfds whose counts are 1..N (every other one
 * FD_CLOEXEC), then forks a child that keeps them and opens N more with
 * counts 100001..100000+N. Both pause(); the parent writes "pid=P child=C"
 * to READY_FILE once the child is ready.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void open_many(int n, unsigned base)
{
	for (int i = 1; i <= n; i++)
		if (eventfd(base + (unsigned)i, i % 2 ? EFD_CLOEXEC : 0) < 0)
			die("eventfd");
}

int main(int argc, char **argv)
{
	int ready[2];
	char tmp[4096], c;
	pid_t child;
	FILE *f;

	if (argc != 3)
		return 2;
	int n = atoi(argv[2]);
	open_many(n, 0);
	if (pipe(ready) < 0)
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(ready[0]);
		open_many(n, 100000);
		if (write(ready[1], "x", 1) != 1)
			die("write");
		close(ready[1]);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		die("read");
	close(ready[0]);
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (!f)
		die("fopen");
	fprintf(f, "pid=%d child=%d\n", getpid(), child);
	fclose(f);
	if (rename(tmp, argv[1]) < 0)
		die("rename");
	for (;;)
		pause();
}
