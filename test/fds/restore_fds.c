/*
 * Workload for the restore tests: states that neither the fds-zoo fixture
 * nor extra_fds.c has, each one case of the restore code. Run in an empty
 * scratch directory:
 *
 *   restore_fds READY_FILE
 *
 * Writes "key=value" lines (pid, fd numbers, what was set up) to READY_FILE
 * (atomically) and pause()s until killed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BIG_PIPE_BYTES (200 * 1024)

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

static void xwrite(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die("write");
}

static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags);
}

static int make_file(const char *name, const char *contents, int flags)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die(name);
	xwrite(fd, contents, strlen(contents));
	close(fd);
	fd = open(name, flags);
	if (fd < 0)
		die(name);
	return fd;
}

int main(int argc, char **argv)
{
	char tmp[4096], *buf;
	int p[2], fd, fd2, ep, wd1, wd2, wd3, ino;
	uint64_t v;
	struct itimerspec its;
	struct timespec now;
	struct epoll_event ev;
	sigset_t mask;
	FILE *f;

	if (argc < 2)
		return 2;
	close_range(3, ~0U, 0);
	signal(SIGPIPE, SIG_IGN);
	note("pid=%d\n", getpid());

	/* A 1 MiB pipe holding 200 KiB (more than a default pipe holds), its read end non-blocking. */
	if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0)
		die("big pipe");
	buf = malloc(BIG_PIPE_BYTES);
	for (int i = 0; i < BIG_PIPE_BYTES; i++)
		buf[i] = (char)(i * 7 + i / 251);
	xwrite(p[1], buf, BIG_PIPE_BYTES);
	free(buf);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK))
		die("big pipe nonblock");
	note("big_pipe_r=%d big_pipe_w=%d big_pipe_bytes=%d\n", p[0], p[1], BIG_PIPE_BYTES);

	/* A pipe whose writers are gone: 5 bytes, then end-of-file. */
	if (pipe(p))
		die("eof pipe");
	xwrite(p[1], "last!", 5);
	close(p[1]);
	note("eof_pipe=%d\n", p[0]);

	/* A pipe with a second read end opened through /proc (which has O_LARGEFILE). */
	if (pipe(p))
		die("lf pipe");
	xwrite(p[1], "abc", 3);
	fd = reopen(p[0], O_RDONLY);
	if (fd < 0)
		die("lf pipe reopen");
	note("lf_pipe_r=%d lf_pipe_w=%d lf_pipe_r2=%d\n", p[0], p[1], fd);

	/* An eventfd count over 32 bits, non-blocking. */
	fd = eventfd(0, EFD_NONBLOCK);
	v = (1ULL << 40) | 7;
	if (fd < 0 || write(fd, &v, 8) != 8)
		die("eventfd");
	note("big_eventfd=%d big_eventfd_count=%llu\n", fd, (unsigned long long)v);

	/* A realtime timer at an absolute time 100 s ahead, cancelled if the clock is set. */
	fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	if (fd < 0 || clock_gettime(CLOCK_REALTIME, &now))
		die("abs timer");
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = now.tv_sec + 100;
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL))
		die("abs timer settime");
	note("abs_timer=%d\n", fd);

	/* A one-shot timer that expired and was not read: one tick. */
	fd = timerfd_create(CLOCK_MONOTONIC, 0);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 1000000;
	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL))
		die("expired timer");
	usleep(20000);
	note("expired_timer=%d\n", fd);

	/* A signalfd for SIGUSR2 and a real-time signal above bit 32. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGRTMIN + 2);
	fd = signalfd(-1, &mask, SFD_NONBLOCK);
	if (fd < 0)
		die("signalfd");
	note("signalfd=%d sigmask=%llx\n", fd, (1ULL << (SIGUSR2 - 1)) | (1ULL << (SIGRTMIN + 2 - 1)));

	/* inotify with watches 1 and 3 (2 removed), the third one-shot. */
	if (mkdir("wa", 0755) || mkdir("wb", 0755) || mkdir("wc", 0755))
		die("mkdir");
	ino = inotify_init1(0);
	wd1 = inotify_add_watch(ino, "wa", IN_CREATE);
	wd2 = inotify_add_watch(ino, "wb", IN_DELETE);
	wd3 = inotify_add_watch(ino, "wc", IN_MODIFY | IN_ONESHOT | IN_EXCL_UNLINK);
	if (ino < 0 || wd1 != 1 || wd2 != 2 || wd3 != 3 || inotify_rm_watch(ino, wd2))
		die("inotify");
	note("inotify=%d\n", ino);

	/* A memfd made without MFD_ALLOW_SEALING (its seals: F_SEAL_SEAL). */
	fd = memfd_create("no-seals", 0);
	if (fd < 0)
		die("memfd no-seals");
	xwrite(fd, "0123456789", 10);
	note("memfd_noseal=%d\n", fd);

	/* A memfd sealed against shrinking, growing and writing, and a read-only open of it at offset 1. */
	fd = memfd_create("sealed", MFD_ALLOW_SEALING);
	if (fd < 0)
		die("memfd sealed");
	xwrite(fd, "xyz", 3);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE))
		die("seals");
	fd2 = reopen(fd, O_RDONLY);
	if (fd2 < 0 || lseek(fd2, 1, SEEK_SET) != 1)
		die("memfd reopen");
	note("memfd_sealed=%d memfd_sealed_ro=%d\n", fd, fd2);

	/* An epoll watching one eventfd under two numbers. */
	fd = eventfd(0, 0);
	fd2 = dup(fd);
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.u64 = 0x1001;
	if (fd < 0 || fd2 < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		die("epoll 1");
	ev.events = EPOLLOUT;
	ev.data.u64 = 0xfeedface00000002ULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd2, &ev))
		die("epoll 2");
	note("epoll2=%d epoll2_a=%d epoll2_b=%d\n", ep, fd, fd2);

	/* A FIFO open read-write, holding data. */
	if (mkfifo("rw.fifo", 0640))
		die("mkfifo rw");
	fd = open("rw.fifo", O_RDWR);
	if (fd < 0)
		die("rw.fifo");
	xwrite(fd, "both ways", 9);
	note("rw_fifo=%d\n", fd);

	/* A FIFO open only for writing, its reader gone, the data still in it. */
	if (mkfifo("wo.fifo", 0600))
		die("mkfifo wo");
	fd = open("wo.fifo", O_RDONLY | O_NONBLOCK);
	fd2 = open("wo.fifo", O_WRONLY);
	if (fd < 0 || fd2 < 0)
		die("wo.fifo");
	xwrite(fd2, "kept", 4);
	close(fd);
	note("wo_fifo=%d\n", fd2);

	/* One unlinked file open twice: two open files of one ghost, with their own flags and offsets. */
	fd = make_file("twice.txt", "twice-ghost", O_RDWR | O_APPEND);
	fd2 = open("twice.txt", O_RDONLY);
	if (fd2 < 0 || lseek(fd2, 6, SEEK_SET) != 6 || unlink("twice.txt"))
		die("twice.txt");
	note("ghost_twice=%d ghost_twice_ro=%d\n", fd, fd2);

	/* An unlinked file whose name the test gives to another file before restoring. */
	fd = make_file("taken.txt", "original", O_RDONLY);
	if (unlink("taken.txt"))
		die("taken.txt");
	note("ghost_taken=%d\n", fd);

	/* Files the test changes after the dump: one grows, one gets another mode. */
	note("grows=%d\n", make_file("grows.txt", "ten bytes!", O_RDONLY));
	note("chmods=%d\n", make_file("chmods.txt", "mode", O_RDONLY));
	note("stays=%d\n", make_file("stays.txt", "stays the same", O_RDWR));

	/* A /proc file of this process (recorded as /proc/PID/stat): not for another pid to reopen. */
	fd = open("/proc/self/stat", O_RDONLY);
	if (fd < 0)
		die("/proc/self/stat");
	note("own_proc=%d\n", fd);

	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (!f || fwrite(desc, 1, desc_len, f) != desc_len || fclose(f) || rename(tmp, argv[1]))
		die("ready file");
	for (;;)
		pause();
}
