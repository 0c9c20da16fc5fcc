// Baseline for `crtool dump` of one BPF map: get the map by id, read it all
// with BPF_MAP_LOOKUP_BATCH, and write what crtool writes to bpfmap-data.img
// (all keys, then all values) to a file. Built by bench/dump-bpf.mjs.
//   batch-dump MAP_ID OUT_FILE
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

static void write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { perror("write"); exit(1); }
    p += w;
    n -= (size_t)w;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s MAP_ID OUT\n", argv[0]); return 2; }
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_id = (uint32_t)strtoul(argv[1], NULL, 10);
  int map = (int)bpf(BPF_MAP_GET_FD_BY_ID, &attr);
  if (map < 0) { perror("BPF_MAP_GET_FD_BY_ID"); return 1; }

  struct bpf_map_info info;
  if (map_info(map, &info) < 0) { perror("BPF_OBJ_GET_INFO_BY_FD"); return 1; }

  size_t max = info.max_entries, ks = info.key_size, vs = info.value_size;
  char *keys = malloc(max * ks), *values = malloc(max * vs);
  long got = read_all(map, keys, values, ks, vs, max, 4096);
  if (got < 0) { perror("BPF_MAP_LOOKUP_BATCH"); return 1; }
  size_t total = (size_t)got;
  int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (out < 0) { perror(argv[2]); return 1; }
  write_all(out, keys, total * ks);
  write_all(out, values, total * vs);
  close(out);
  printf("%zu\n", total);
  return 0;
}
