// Shared by the C baselines: a whole BPF map read with BPF_MAP_LOOKUP_BATCH.
#ifndef READ_ALL_H
#define READ_ALL_H
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

// BPF_OBJ_GET_INFO_BY_FD of a map; 0, or -1 with errno set.
static int map_info(int map, struct bpf_map_info *info) {
  union bpf_attr attr;
  memset(info, 0, sizeof(*info));
  memset(&attr, 0, sizeof(attr));
  attr.info.bpf_fd = (uint32_t)map;
  attr.info.info_len = sizeof(*info);
  attr.info.info = (uint64_t)(uintptr_t)info;
  return bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0 ? -1 : 0;
}

// Reads up to `max` elements of `map`, `chunk` per call, into keys and values
// (room for `max` each); returns how many, or -1 with errno set.
static long read_all(int map, char *keys, char *values, size_t ks, size_t vs, size_t max, size_t chunk) {
  union bpf_attr attr;
  uint32_t token = 0;
  size_t total = 0;
  int first = 1;
  for (;;) {
    memset(&attr, 0, sizeof(attr));
    attr.batch.map_fd = (uint32_t)map;
    attr.batch.in_batch = first ? 0 : (uint64_t)(uintptr_t)&token;
    attr.batch.out_batch = (uint64_t)(uintptr_t)&token;
    attr.batch.keys = (uint64_t)(uintptr_t)(keys + total * ks);
    attr.batch.values = (uint64_t)(uintptr_t)(values + total * vs);
    attr.batch.count = (uint32_t)(max - total < chunk ? max - total : chunk);
    long r = bpf(BPF_MAP_LOOKUP_BATCH, &attr);
    total += attr.batch.count;
    first = 0;
    if (r < 0) {
      if (errno == ENOENT) return (long)total;
      return -1;
    }
    if (total >= max) return (long)total;
  }
}
#endif
