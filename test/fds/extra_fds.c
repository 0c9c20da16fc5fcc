/*
 * Test workload for the fd kinds the fds-zoo fixture does not cover, or
 * covers only in the easy case. Run in an empty scratch directory:
 *
 *   extra_fds READY_FILE
 *
 * Writes "key=value" lines (pid, fd numbers, what was set up) to READY_FILE
 * (atomically) and pause()s until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static char desc[16384];
static size_t desc_len;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	desc_len += vsnprintf(desc + desc_len, sizeof(desc) - desc_len, fmt, ap);
	va_end(ap);
}

static void fill(int fd, off_t off, size_t len, char c)
{
	char *buf = malloc(len);

	memset(buf, c, len);
	if (pwrite(fd, buf, len, off) != (ssize_t)len)
		die("pwrite");
	free(buf);
}

int main(int argc, char **argv)
{
	char tmp[4096];
	int fd, p[2], efd, ep, moved, reuse, owned, master, slave, idx, pidfd, fan, fan_sb, master2, slave2;
	struct epoll_event ev;
	struct f_owner_ex owner = { F_OWNER_PID, 0 };
	struct winsize ws = { 33, 111, 0, 0 };
	struct termios t;
	pid_t child;
	FILE *f;

	if (argc < 2)
		return 2;
	close_range(3, ~0U, 0);
	note("pid=%d\n", getpid());

	/* A 40 KiB unlinked file with a hole at [8 KiB, 32 KiB): a chunked ghost. */
	fd = open("big-ghost.bin", O_RDWR | O_CREAT | O_TRUNC, 0640);
	if (fd < 0)
		die("big-ghost.bin");
	fill(fd, 0, 8192, 'h');
	fill(fd, 32768, 8192, 't');
	if (unlink("big-ghost.bin") || lseek(fd, 123, SEEK_SET) != 123)
		die("unlink big-ghost.bin");
	note("big_ghost=%d\n", fd);

	/* A pipe whose read end is closed: only the writer holds it, 15 bytes buffered. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe(p) || write(p[1], "only-the-writer", 15) != 15 || close(p[0]))
		die("pipe");
	note("wo_pipe=%d\n", p[1]);

	/* eventfd in semaphore mode: CRIU's format cannot say so. */
	efd = eventfd(3, EFD_SEMAPHORE);
	if (efd < 0)
		die("eventfd sem");
	note("efd_sem=%d\n", efd);

	/* epoll whose target was dup()ed and its first fd closed, the number reused. */
	efd = eventfd(0, EFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0 || ep < 0)
		die("epoll setup");
	ev.events = EPOLLIN;
	ev.data.u64 = 0x77;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev))
		die("epoll_ctl");
	moved = dup(efd);
	if (moved < 0 || close(efd))
		die("dup");
	reuse = open("/dev/zero", O_RDONLY);
	if (reuse != efd)
		die("fd number not reused");
	note("epoll=%d epoll_added_as=%d epoll_target_now=%d\n", ep, efd, moved);

	/* F_SETOWN_EX + F_SETSIG on a regular file. */
	owned = open("owned.txt", O_RDWR | O_CREAT, 0600);
	owner.pid = getpid();
	if (owned < 0 || fcntl(owned, F_SETOWN_EX, &owner) || fcntl(owned, F_SETSIG, SIGUSR2))
		die("owned.txt");
	note("owned=%d\n", owned);

	fd = open("owned.txt", O_PATH);
	if (fd < 0)
		die("O_PATH");
	note("opath=%d\n", fd);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		die("dir");
	note("dir=%d\n", fd);
	fd = open("/proc/self/exe", O_RDONLY);
	if (fd < 0)
		die("exe");
	note("elf=%d\n", fd);
	fd = open("/dev/kmsg", O_WRONLY);
	note("kmsg=%d\n", fd);

	/* fanotify: an inode mark and a mount mark; and a filesystem mark CRIU cannot express. */
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
	if (fan >= 0 && (fanotify_mark(fan, FAN_MARK_ADD, FAN_MODIFY | FAN_CLOSE_WRITE, AT_FDCWD, "owned.txt") ||
			 fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE, AT_FDCWD, ".")))
		die("fanotify_mark");
	note("fanotify=%d fanotify_errno=%d\n", fan, fan < 0 ? errno : 0);
	fan_sb = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	if (fan_sb >= 0 && fanotify_mark(fan_sb, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE, AT_FDCWD, "."))
		die("fanotify_mark sb");
	note("fanotify_sb=%d\n", fan_sb);

	/* A pty pair; the slave becomes our controlling tty (spawned in a new session). */
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master) || ioctl(master, TIOCGPTN, &idx))
		die("posix_openpt");
	slave = open(ptsname(master), O_RDWR);
	if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) || tcsetpgrp(slave, getpgrp()))
		die("pts");
	if (ioctl(slave, TIOCSWINSZ, &ws) || tcgetattr(slave, &t))
		die("winsize");
	t.c_lflag &= ~(ECHO | ICANON);
	t.c_cc[VMIN] = 3;
	t.c_cc[VTIME] = 7;
	if (tcsetattr(slave, TCSANOW, &t) || tcgetattr(slave, &t))
		die("tcsetattr");
	if (ioctl(slave, TIOCEXCL) || ioctl(master, TIOCPKT, &(int){ 1 }))
		die("tty modes");
	note("pty_master=%d pty_slave=%d pty_index=%d\n", master, slave, idx);
	note("tty_iflag=%u tty_oflag=%u tty_cflag=%u tty_lflag=%u tty_line=%u tty_cc=", t.c_iflag, t.c_oflag, t.c_cflag,
	     t.c_lflag, t.c_line);
	for (int i = 0; i < 19; i++)
		note("%02x", t.c_cc[i]);
	note("\n");

	/* pidfds: of our parent (alive), and of a child that has exited and been reaped. */
	pidfd = syscall(SYS_pidfd_open, getppid(), 0);
	if (pidfd < 0)
		die("pidfd_open parent");
	note("pidfd_parent=%d parent=%d\n", pidfd, getppid());
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		_exit(0);
	pidfd = syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0 || waitpid(child, NULL, 0) != child)
		die("pidfd_open child");
	note("pidfd_dead=%d\n", pidfd);

	/* Namespace files of our own namespaces. */
	fd = open("/proc/self/ns/net", O_RDONLY);
	if (fd < 0)
		die("ns/net");
	note("netns=%d\n", fd);
	fd = open("/proc/self/ns/uts", O_RDONLY);
	if (fd < 0)
		die("ns/uts");
	note("utsns=%d\n", fd);

	/* A memfd of 3 pages with data only in the third, opened twice (two open files, one inode). */
	fd = memfd_create("holey", 0);
	if (fd < 0 || ftruncate(fd, 3 * 4096))
		die("memfd");
	fill(fd, 8192 + 10, 100, 'M');
	note("memfd_holey=%d\n", fd);
	snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d", fd);
	fd = open(tmp, O_RDONLY);
	if (fd < 0)
		die("memfd reopen");
	note("memfd_holey2=%d\n", fd);

	/* States CRIU's format cannot hold, each refused with a reason. */
	fd = open("linked.txt", O_RDWR | O_CREAT, 0600);
	if (fd < 0 || link("linked.txt", "other-name.txt") || unlink("linked.txt"))
		die("linked.txt");
	note("linked_elsewhere=%d\n", fd);
	fd = open("replaced.txt", O_RDWR | O_CREAT, 0600);
	if (fd < 0 || link("replaced.txt", "keep.txt") || close(open("newcomer.txt", O_RDWR | O_CREAT, 0600)) ||
	    rename("newcomer.txt", "replaced.txt"))
		die("replaced.txt");
	note("replaced=%d\n", fd);
	if (pipe2(p, O_DIRECT))
		die("pipe2 O_DIRECT");
	note("packet_pipe=%d\n", p[1]); /* packet mode is a flag of the write end */
	fd = timerfd_create(CLOCK_BOOTTIME_ALARM, 0);
	note("alarm_timer=%d\n", fd);
	fd = syscall(SYS_pidfd_open, getpid(), PIDFD_THREAD);
	note("pidfd_thread=%d\n", fd);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		pause();
		_exit(0);
	}
	snprintf(tmp, sizeof(tmp), "/proc/%d/status", child);
	fd = open(tmp, O_RDONLY);
	if (fd < 0 || kill(child, SIGKILL) || waitpid(child, NULL, 0) != child)
		die("dead proc file");
	note("dead_proc=%d dead_pid=%d\n", fd, child);
	/* A second pty whose slave has a line of unread input (and the master its echo). */
	master2 = posix_openpt(O_RDWR | O_NOCTTY);
	if (master2 < 0 || grantpt(master2) || unlockpt(master2))
		die("posix_openpt 2");
	slave2 = open(ptsname(master2), O_RDWR | O_NOCTTY);
	if (slave2 < 0 || write(master2, "typed\n", 6) != 6)
		die("pts 2");
	note("pty2_slave=%d\n", slave2);

	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (!f || fwrite(desc, 1, desc_len, f) != desc_len || fclose(f) || rename(tmp, argv[1]))
		die("ready file");
	for (;;)
		pause();
}
