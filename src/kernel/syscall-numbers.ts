/**
 * System call numbers for the architectures crtool runs on. x86_64 has its
 * own table; aarch64 uses the asm-generic one. The pidfd calls were added
 * after the tables converged, so they share numbers.
 */
import { NotSupportedError } from "./errors.js";

export interface SyscallNumbers {
  read: number;
  write: number;
  openat: number;
  close: number;
  dup: number;
  dup3: number;
  fcntl: number;
  pipe2: number;
  tee: number;
  copy_file_range: number;
  kcmp: number;
  bpf: number;
  getpid: number;
  gettid: number;
  pidfd_open: number;
  pidfd_getfd: number;
  pidfd_send_signal: number;
  ptrace: number;
  wait4: number;
  // For the fd kinds (src/fds/syscalls.ts).
  lseek: number;
  ioctl: number;
  open_by_handle_at: number;
  memfd_create: number;
  linkat: number;
  clock_gettime: number;
  eventfd2: number;
  timerfd_create: number;
  timerfd_settime: number;
  timerfd_gettime: number;
  signalfd4: number;
  epoll_create1: number;
  epoll_ctl: number;
  inotify_init1: number;
  inotify_add_watch: number;
  inotify_rm_watch: number;
  utimensat: number;
  close_range: number;
  getdents64: number;
  // Where restore runs (cpu-affinity.ts).
  sched_setaffinity: number;
  sched_getaffinity: number;
  // Ring buffer positions (bpf-ringbuf.ts).
  mmap: number;
  munmap: number;
  // Sockets (socket-syscalls.ts).
  ppoll: number;
  socket: number;
  socketpair: number;
  shutdown: number;
  sendmsg: number;
  recvmsg: number;
  bind: number;
  getsockname: number;
  getpeername: number;
  setsockopt: number;
  getsockopt: number;
  setns: number;
  getxattr: number;
}

const X86_64: SyscallNumbers = {
  read: 0,
  write: 1,
  openat: 257,
  close: 3,
  dup: 32,
  dup3: 292,
  fcntl: 72,
  pipe2: 293,
  tee: 276,
  copy_file_range: 326,
  kcmp: 312,
  bpf: 321,
  getpid: 39,
  gettid: 186,
  pidfd_open: 434,
  pidfd_getfd: 438,
  pidfd_send_signal: 424,
  ptrace: 101,
  wait4: 61,
  lseek: 8,
  ioctl: 16,
  open_by_handle_at: 304,
  memfd_create: 319,
  linkat: 265,
  clock_gettime: 228,
  eventfd2: 290,
  timerfd_create: 283,
  timerfd_settime: 286,
  timerfd_gettime: 287,
  signalfd4: 289,
  epoll_create1: 291,
  epoll_ctl: 233,
  inotify_init1: 294,
  inotify_add_watch: 254,
  inotify_rm_watch: 255,
  utimensat: 280,
  close_range: 436,
  getdents64: 217,
  sched_setaffinity: 203,
  sched_getaffinity: 204,
  mmap: 9,
  munmap: 11,
  ppoll: 271,
  socket: 41,
  socketpair: 53,
  shutdown: 48,
  sendmsg: 46,
  recvmsg: 47,
  bind: 49,
  getsockname: 51,
  getpeername: 52,
  setsockopt: 54,
  getsockopt: 55,
  setns: 308,
  getxattr: 191,
};

const AARCH64: SyscallNumbers = {
  read: 63,
  write: 64,
  openat: 56,
  close: 57,
  dup: 23,
  dup3: 24,
  fcntl: 25,
  pipe2: 59,
  tee: 77,
  copy_file_range: 285,
  kcmp: 272,
  bpf: 280,
  getpid: 172,
  gettid: 178,
  pidfd_open: 434,
  pidfd_getfd: 438,
  pidfd_send_signal: 424,
  ptrace: 117,
  wait4: 260,
  lseek: 62,
  ioctl: 29,
  open_by_handle_at: 265,
  memfd_create: 279,
  linkat: 37,
  clock_gettime: 113,
  eventfd2: 19,
  timerfd_create: 85,
  timerfd_settime: 86,
  timerfd_gettime: 87,
  signalfd4: 74,
  epoll_create1: 20,
  epoll_ctl: 21,
  inotify_init1: 26,
  inotify_add_watch: 27,
  inotify_rm_watch: 28,
  utimensat: 88,
  close_range: 436,
  getdents64: 61,
  sched_setaffinity: 122,
  sched_getaffinity: 123,
  mmap: 222,
  munmap: 215,
  ppoll: 73,
  socket: 198,
  socketpair: 199,
  shutdown: 210,
  sendmsg: 211,
  recvmsg: 212,
  bind: 200,
  getsockname: 204,
  getpeername: 205,
  setsockopt: 208,
  getsockopt: 209,
  setns: 268,
  getxattr: 8,
};

/** The table for `arch` (a `process.arch` value). */
export function syscallNumbersFor(platform: string, arch: string): SyscallNumbers {
  if (platform !== "linux") throw new NotSupportedError(`crtool's kernel layer needs Linux, not ${platform}`);
  if (arch === "x64") return X86_64;
  if (arch === "arm64") return AARCH64;
  throw new NotSupportedError(`crtool's kernel layer supports x86_64 and aarch64, not ${arch}`);
}
