/**
 * crtool's kernel layer: the only code that calls into the kernel.
 * bpf(2), pidfds, a few libc calls, and /proc parsers.
 */
export * from "./errors.js";
export * from "./bpf.js";
export * from "./pidfd.js";
export * from "./fdinfo.js";
export * from "./procfs.js";
export * from "./cpu-affinity.js";
export {
  close,
  dup,
  dup3,
  fcntl,
  read,
  write,
  pipe2,
  tee,
  kcmp,
  sameOpenFile,
  getpid,
  gettid,
  rawSyscall,
  rawSyscall6,
  rawSyscall7,
  rawSyscallAsync,
  check,
  syscallNumbers,
  stableBuffer,
  addressOf,
  cString,
  KCMP,
  F_DUPFD,
  F_GETFD,
  F_SETFD,
  F_GETFL,
  F_SETFL,
  F_DUPFD_CLOEXEC,
  F_SETPIPE_SZ,
  F_GETPIPE_SZ,
  F_ADD_SEALS,
  F_GET_SEALS,
  FD_CLOEXEC,
  SPLICE_F_NONBLOCK,
} from "./libc.js";
export type { SyscallNumbers } from "./syscall-numbers.js";
export * from "./ptrace.js";
export * from "./dump-helper-thread.js";
export * from "./remote-syscalls.js";
export * from "./cgroup-freezer.js";
export * from "./fdinfo-reader.js";
export * from "./map-fdinfo-bytes.js";
export * from "./map-fd-probe.js";
export * from "./fd-table.js";
export * from "./fd-list.js";
export * from "./mountinfo.js";
export { pageSize } from "./page-size.js";
export * from "./bpf-ringbuf.js";
export * from "./bpf-objects.js";
export * from "./fd-syscalls.js";
export * from "./socket-syscalls.js";
export * from "./open-flags.js";
export { copyFileRange } from "./copy-range.js";
