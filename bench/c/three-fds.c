// The target of bench/startup.mjs: a process holding its three standard
// fds and nothing else. A program started from Node keeps every fd its
// parents left open without FD_CLOEXEC (a harness's pipe, say), so `sleep`
// would be dumped with those too: this one closes them before it waits.
#define _GNU_SOURCE
#include <unistd.h>
#include <sys/syscall.h>

#ifndef __NR_close_range
#define __NR_close_range 436
#endif

int main(void) {
  if (syscall(__NR_close_range, 3, ~0U, 0) != 0) {
    for (int fd = 3; fd < 1024; fd++) close(fd);
  }
  for (;;) pause();
}
