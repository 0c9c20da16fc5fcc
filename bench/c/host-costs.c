// What this machine charges for the two things the benchmarks' ratios are
// most sensitive to: a system call (getppid, a million times) and a first
// touch of an anonymous page (64 MiB). Prints one JSON line of nanoseconds.
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(void) {
  const int calls = 1000000;
  double t0 = now_ns();
  for (int i = 0; i < calls; i++) syscall(SYS_getppid);
  double syscall_ns = (now_ns() - t0) / calls;

  const size_t bytes = 64u << 20, page = (size_t)sysconf(_SC_PAGESIZE);
  t0 = now_ns();
  volatile char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  for (size_t i = 0; i < bytes; i += page) p[i] = 1;
  double fault_ns = (now_ns() - t0) / (bytes / page);
  printf("{\"syscallNs\":%.0f,\"pageFaultNs\":%.0f}\n", syscall_ns, fault_ns);
  return 0;
}
