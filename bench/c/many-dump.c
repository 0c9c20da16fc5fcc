// Baseline for `crtool dump` of a process holding many BPF maps: the kernel
// work any dumper of its fds must do, per fd, on one thread, and nothing
// else: read /proc/PID/fdinfo/N (the fd flags, memlock and frozen are only
// there), take the fd with pidfd_getfd, BPF_OBJ_GET_INFO_BY_FD, read the map
// whole with BPF_MAP_LOOKUP_BATCH, and write keys then values to a file.
// Built by bench/dump-bpf.mjs.
//   many-dump PID OUT_FILE
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "read-all.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s PID OUT\n", argv[0]); return 2; }
  int pid = atoi(argv[1]);
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
  int infodir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int pidfd = (int)syscall(__NR_pidfd_open, pid, 0);
  snprintf(path, sizeof(path), "/proc/%d/fd", pid);
  DIR *fds = opendir(path);
  FILE *out = fopen(argv[2], "w");
  if (infodir < 0 || pidfd < 0 || !fds || !out) { perror("open"); return 1; }
  char text[4096];
  size_t cap = 0;
  char *keys = NULL, *values = NULL;
  long maps = 0;
  struct dirent *d;
  while ((d = readdir(fds))) {
    if (d->d_name[0] == '.') continue;
    int fd = atoi(d->d_name);
    int f = openat(infodir, d->d_name, O_RDONLY | O_CLOEXEC);
    if (f < 0) continue;
    ssize_t n = read(f, text, sizeof(text));
    close(f);
    if (n <= 0 || !memmem(text, (size_t)n, "map_type:", 9)) continue;
    int map = (int)syscall(__NR_pidfd_getfd, pidfd, fd, 0);
    if (map < 0) { perror("pidfd_getfd"); return 1; }
    struct bpf_map_info info;
    if (map_info(map, &info) < 0) { perror("BPF_OBJ_GET_INFO_BY_FD"); return 1; }
    size_t max = (size_t)info.max_entries + 1, ks = info.key_size, vs = info.value_size;
    if (max * (ks > vs ? ks : vs) > cap) {
      cap = max * (ks > vs ? ks : vs);
      keys = realloc(keys, cap);
      values = realloc(values, cap);
    }
    long total = read_all(map, keys, values, ks, vs, max, max);
    if (total < 0) { perror("BPF_MAP_LOOKUP_BATCH"); return 1; }
    fwrite(keys, ks, (size_t)total, out);
    fwrite(values, vs, (size_t)total, out);
    close(map);
    maps++;
  }
  fclose(out);
  printf("%ld\n", maps);
  return 0;
}
