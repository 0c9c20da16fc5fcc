// Baseline for `crtool restore` of one BPF map: read a bpfmap-data payload
// (all keys, then all values) from a file, create a HASH map and load it with
// one BPF_MAP_UPDATE_BATCH. Built by bench/restore-bpf.mjs.
//   batch-load PAYLOAD_FILE COUNT KEY_SIZE VALUE_SIZE
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: %s PAYLOAD COUNT KEY_SIZE VALUE_SIZE\n", argv[0]); return 2; }
  uint32_t count = (uint32_t)strtoul(argv[2], NULL, 10), ks = (uint32_t)atoi(argv[3]), vs = (uint32_t)atoi(argv[4]);
  int in = open(argv[1], O_RDONLY);
  if (in < 0) { perror(argv[1]); return 1; }
  size_t size = (size_t)count * (ks + vs);
  char *data = malloc(size);
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(in, data + got, size - got);
    if (n <= 0) { perror("read"); return 1; }
    got += (size_t)n;
  }
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_HASH;
  attr.key_size = ks;
  attr.value_size = vs;
  attr.max_entries = count;
  int map = (int)bpf(BPF_MAP_CREATE, &attr);
  if (map < 0) { perror("BPF_MAP_CREATE"); return 1; }
  memset(&attr, 0, sizeof(attr));
  attr.batch.map_fd = (uint32_t)map;
  attr.batch.keys = (uint64_t)(uintptr_t)data;
  attr.batch.values = (uint64_t)(uintptr_t)(data + (size_t)count * ks);
  attr.batch.count = count;
  if (bpf(BPF_MAP_UPDATE_BATCH, &attr) < 0) { perror("BPF_MAP_UPDATE_BATCH"); return 1; }
  printf("%u\n", attr.batch.count);
  return 0;
}
