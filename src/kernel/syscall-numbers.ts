/**
 * System call numbers for the architectures crtool runs on. x86_64 has its
 * own table; aarch64 uses the asm-generic one. The pidfd calls were added
 * after the tables converged, so they share numbers.
 */
import { NotSupportedError } from "./errors.js";

export interface SyscallNumbers {
  read: number;
  write: number;
  close: number;
  dup: number;
  dup3: number;
  fcntl: number;
  pipe2: number;
  tee: number;
  kcmp: number;
  bpf: number;
  getpid: number;
  gettid: number;
  pidfd_open: number;
  pidfd_getfd: number;
  pidfd_send_signal: number;
  ptrace: number;
  wait4: number;
}

const X86_64: SyscallNumbers = {
  read: 0,
  write: 1,
  close: 3,
  dup: 32,
  dup3: 292,
  fcntl: 72,
  pipe2: 293,
  tee: 276,
  kcmp: 312,
  bpf: 321,
  getpid: 39,
  gettid: 186,
  pidfd_open: 434,
  pidfd_getfd: 438,
  pidfd_send_signal: 424,
  ptrace: 101,
  wait4: 61,
};

const AARCH64: SyscallNumbers = {
  read: 63,
  write: 64,
  close: 57,
  dup: 23,
  dup3: 24,
  fcntl: 25,
  pipe2: 59,
  tee: 77,
  kcmp: 272,
  bpf: 280,
  getpid: 172,
  gettid: 178,
  pidfd_open: 434,
  pidfd_getfd: 438,
  pidfd_send_signal: 424,
  ptrace: 117,
  wait4: 260,
};

/** The table for `arch` (a `process.arch` value). */
export function syscallNumbersFor(platform: string, arch: string): SyscallNumbers {
  if (platform !== "linux") throw new NotSupportedError(`crtool's kernel layer needs Linux, not ${platform}`);
  if (arch === "x64") return X86_64;
  if (arch === "arm64") return AARCH64;
  throw new NotSupportedError(`crtool's kernel layer supports x86_64 and aarch64, not ${arch}`);
}
