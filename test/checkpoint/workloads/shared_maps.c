/*
 * A two-process tree sharing BPF maps, for the dump's short path for map
 * fds (the first fd of a map) beside the general path (every other fd of
 * it: the same open file in another process, or another open file).
 *
 *   shared_maps READY_FILE N
 *
 * The parent creates N HASH maps u32 -> u64 (map i holds i % 5 elements,
 * key i * 10 + k, value i * 1000 + k; every third fd FD_CLOEXEC, the
 * others not), then forks
 * a child that keeps them all, closes every seventh, and opens every
 * eleventh again by id (another open file, read-only for every other one).
 * Both pause(); the parent writes "pid=P child=C" to READY_FILE once the
 * child is ready.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
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
	int *fds = calloc((size_t)n, sizeof(int));
	uint32_t *ids = calloc((size_t)n, sizeof(uint32_t));
	if (!fds || !ids)
		die("calloc");
	for (int i = 0; i < n; i++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_HASH;
		a.key_size = 4;
		a.value_size = 8;
		a.max_entries = 8;
		snprintf(a.map_name, sizeof(a.map_name), "shared_%d", i);
		fds[i] = bpf(BPF_MAP_CREATE, &a);
		if (fds[i] < 0)
			die("BPF_MAP_CREATE");
		/* The kernel makes map fds close-on-exec: every third keeps it. */
		if (fcntl(fds[i], F_SETFD, i % 3 == 0 ? FD_CLOEXEC : 0) < 0)
			die("F_SETFD");
		for (int k = 0; k < i % 5; k++) {
			uint32_t key = (uint32_t)(i * 10 + k);
			uint64_t value = (uint64_t)i * 1000 + (uint64_t)k;
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)fds[i];
			a.key = (uint64_t)(uintptr_t)&key;
			a.value = (uint64_t)(uintptr_t)&value;
			if (bpf(BPF_MAP_UPDATE_ELEM, &a) < 0)
				die("BPF_MAP_UPDATE_ELEM");
		}
		struct bpf_map_info info;
		memset(&info, 0, sizeof(info));
		memset(&a, 0, sizeof(a));
		a.info.bpf_fd = (uint32_t)fds[i];
		a.info.info_len = sizeof(info);
		a.info.info = (uint64_t)(uintptr_t)&info;
		if (bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0)
			die("BPF_OBJ_GET_INFO_BY_FD");
		ids[i] = info.id;
	}
	if (pipe(ready) < 0)
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(ready[0]);
		for (int i = 0; i < n; i++) {
			if (i % 7 == 0)
				close(fds[i]);
			if (i % 11 == 0) {
				union bpf_attr a;
				memset(&a, 0, sizeof(a));
				a.map_id = ids[i];
				a.open_flags = i % 2 ? BPF_F_RDONLY : 0;
				if (bpf(BPF_MAP_GET_FD_BY_ID, &a) < 0)
					die("BPF_MAP_GET_FD_BY_ID");
			}
		}
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
