/*
 * Workload and checker for the launch tests (what the restored command
 * finds in its fd table).
 *
 *   launch_fds hold READY_FILE
 *     fds 3 (pipe read end, FD_CLOEXEC), 4 (its write end), 5 (eventfd,
 *     FD_CLOEXEC), 6 (eventfd), 7 (epoll, FD_CLOEXEC) watching 3, 5, 6 and
 *     40 (a dup of 6), each with its own data; 41-43 (dups of 5, FD_CLOEXEC)
 *     and 44 (a dup of 5); writes "pid=N" to READY_FILE and pause()s until
 *     killed.
 *
 *   launch_fds check OUT_FILE
 *     writes to OUT_FILE, one per line: "fd N cloexec C" for fds 3..63 that
 *     are open, the epoll's fdinfo "tfd:" lines, and "mod N R" for each of
 *     3, 5, 6 and 40: the result of EPOLL_CTL_MOD on it (0 or errno), which
 *     only works when the item is keyed by that fd number.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void watch(int ep, int fd, unsigned events, unsigned long long data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl");
}

static void __attribute__((noreturn)) hold(const char *ready)
{
	int p[2];
	char tmp[4096];
	FILE *f;

	/* Each new fd takes the lowest free number: 3, 4, 5, 6, 7. */
	for (int i = 3; i < 64; i++)
		close(i);
	if (pipe2(p, 0) < 0 || p[0] != 3 || p[1] != 4)
		die("pipe2");
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		die("fcntl");
	if (eventfd(7, EFD_CLOEXEC) != 5 || eventfd(0, 0) != 6)
		die("eventfd");
	if (epoll_create1(EPOLL_CLOEXEC) != 7)
		die("epoll_create1");
	if (dup2(6, 40) < 0)
		die("dup2");
	/* A run of FD_CLOEXEC fds (set in one call on restore), then one without. */
	for (int fd = 41; fd <= 43; fd++)
		if (dup3(5, fd, O_CLOEXEC) < 0)
			die("dup3");
	if (dup2(5, 44) < 0)
		die("dup2");
	watch(7, 3, EPOLLIN, 0x1111);
	watch(7, 5, EPOLLIN | EPOLLET, 0x5555);
	watch(7, 6, EPOLLOUT, 0x6666);
	watch(7, 40, EPOLLIN, 0x4040);
	snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
	f = fopen(tmp, "w");
	if (!f)
		die("fopen");
	fprintf(f, "pid=%d\n", getpid());
	fclose(f);
	if (rename(tmp, ready) < 0)
		die("rename");
	for (;;)
		pause();
}

static int check(const char *out)
{
	static const int targets[] = { 3, 5, 6, 40 };
	char line[256];
	FILE *o, *fi;

	o = fopen(out, "w");
	if (!o)
		die("fopen");
	for (int fd = 3; fd < 64; fd++) {
		int flags = fcntl(fd, F_GETFD);

		if (flags >= 0 && fd != fileno(o))
			fprintf(o, "fd %d cloexec %d\n", fd, (flags & FD_CLOEXEC) ? 1 : 0);
	}
	fi = fopen("/proc/self/fdinfo/7", "r");
	if (fi) {
		while (fgets(line, sizeof(line), fi))
			if (strncmp(line, "tfd:", 4) == 0)
				fputs(line, o);
		fclose(fi);
	}
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x9999 };
		int r = epoll_ctl(7, EPOLL_CTL_MOD, targets[i], &ev);

		fprintf(o, "mod %d %d\n", targets[i], r < 0 ? errno : 0);
	}
	fclose(o);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "hold") == 0)
		hold(argv[2]);
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return check(argv[2]);
	fprintf(stderr, "usage: launch_fds hold READY_FILE | check OUT_FILE\n");
	return 2;
}
