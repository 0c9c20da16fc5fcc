/**
 * pidfds: a stable handle on a process (no pid-reuse races), and
 * pidfd_getfd, which duplicates another process's fd into ours — the same
 * open file description, offset and flags shared — without stopping it.
 * pidfd_getfd needs PTRACE_MODE_ATTACH_REALCREDS on the target (root, or the
 * same user when Yama allows it).
 */
import { constants } from "node:os";
import { NotSupportedError } from "./errors.js";
import { check, close, O_NONBLOCK, rawSyscall, rawSyscall6, syscallNumbers } from "./libc.js";

const ENOSYS = 38;

/** pidfd_open flags. */
export const PIDFD_NONBLOCK = O_NONBLOCK;
/** A pidfd for a thread rather than a thread group (Linux 6.9+). */
export const PIDFD_THREAD = 0o200;

function notSupported(call: string, since: string): never {
  throw new NotSupportedError(`${call} is not available on this kernel (needs Linux ${since})`);
}

/** pidfd_open(2): an fd referring to process `pid` (close-on-exec). */
export function pidfdOpen(pid: number, flags = 0): number {
  const r = rawSyscall(syscallNumbers().pidfd_open, pid, flags);
  if (r === -ENOSYS) notSupported("pidfd_open", "5.3");
  return check(r, "pidfd_open", `pid ${pid}`);
}

/** pidfd_getfd(2): a close-on-exec duplicate, in this process, of fd `targetFd` of the pidfd's process. */
export function pidfdGetfd(pidfd: number, targetFd: number, flags = 0): number {
  const r = rawSyscall(syscallNumbers().pidfd_getfd, pidfd, targetFd, flags);
  if (r === -ENOSYS) notSupported("pidfd_getfd", "5.6");
  return check(r, "pidfd_getfd", `fd ${targetFd} via pidfd ${pidfd}`);
}

/** pidfd_send_signal(2) with no siginfo. */
export function pidfdSendSignal(pidfd: number, signal: number | NodeJS.Signals, flags = 0): void {
  const sig = typeof signal === "number" ? signal : constants.signals[signal];
  if (sig === undefined) throw new TypeError(`unknown signal ${String(signal)}`);
  const r = rawSyscall6(syscallNumbers().pidfd_send_signal, pidfd, sig, 0, flags);
  if (r === -ENOSYS) notSupported("pidfd_send_signal", "5.1");
  check(r, "pidfd_send_signal", `signal ${sig} via pidfd ${pidfd}`);
}

/** Duplicates fd `targetFd` of process `pid` into this process (pidfd_open + pidfd_getfd). */
export function grabFd(pid: number, targetFd: number): number {
  const pidfd = pidfdOpen(pid);
  try {
    return pidfdGetfd(pidfd, targetFd);
  } finally {
    close(pidfd);
  }
}
