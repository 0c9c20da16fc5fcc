/*
 * A workload that keeps moving amounts between the keys of a BPF hash map,
 * each move one BPF_MAP_UPDATE_BATCH of both keys (one system call, so a
 * ptrace stop never splits it): the sum of all values never changes.
 * Slot 0 of a second map (an ARRAY) counts the moves.
 *
 *   mover READY_FILE KEYS START
 */
#define _GNU_SOURCE
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *a) { return syscall(SYS_bpf, cmd, a, sizeof(*a)); }

static int create(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, const char *name) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_type = type; a.key_size = ks; a.value_size = vs; a.max_entries = max;
  snprintf(a.map_name, sizeof(a.map_name), "%s", name);
  long fd = bpf(BPF_MAP_CREATE, &a);
  if (fd < 0) { perror("BPF_MAP_CREATE"); exit(1); }
  return (int)fd;
}

static void lookup(int fd, uint32_t key, uint64_t *v) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_fd = fd; a.key = (uintptr_t)&key; a.value = (uintptr_t)v;
  if (bpf(BPF_MAP_LOOKUP_ELEM, &a)) { perror("LOOKUP"); exit(1); }
}

static void update(int fd, uint32_t key, uint64_t v) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_fd = fd; a.key = (uintptr_t)&key; a.value = (uintptr_t)&v;
  if (bpf(BPF_MAP_UPDATE_ELEM, &a)) { perror("UPDATE"); exit(1); }
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s READY KEYS START\n", argv[0]); return 2; }
  uint32_t n = (uint32_t)atoi(argv[2]);
  uint64_t start = strtoull(argv[3], NULL, 10);
  int accounts = create(BPF_MAP_TYPE_HASH, 4, 8, n, "accounts");
  int moves = create(BPF_MAP_TYPE_ARRAY, 4, 8, 1, "moves");
  for (uint32_t k = 0; k < n; k++) update(accounts, k, start);
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
  FILE *f = fopen(tmp, "w");
  fprintf(f, "pid=%d accounts_fd=%d moves_fd=%d\n", getpid(), accounts, moves);
  fclose(f);
  rename(tmp, argv[1]);
  uint32_t seed = (uint32_t)getpid();
  for (uint64_t m = 1;; m++) {
    seed = seed * 1103515245u + 12345u;
    uint32_t x = seed % n, y = (seed >> 16) % n;
    if (x == y) continue;
    uint64_t vx, vy;
    lookup(accounts, x, &vx);
    lookup(accounts, y, &vy);
    uint64_t amount = vx ? (seed >> 8) % (vx + 1) : 0;
    uint32_t keys[2] = {x, y};
    uint64_t vals[2] = {vx - amount, vy + amount};
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.batch.map_fd = (uint32_t)accounts;
    a.batch.keys = (uintptr_t)keys;
    a.batch.values = (uintptr_t)vals;
    a.batch.count = 2;
    if (bpf(BPF_MAP_UPDATE_BATCH, &a)) { perror("UPDATE_BATCH"); return 1; }
    update(moves, 0, m);
  }
}
