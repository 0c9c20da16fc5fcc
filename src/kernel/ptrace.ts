/**
 * Stopping and resuming tasks with ptrace: PTRACE_SEIZE + PTRACE_INTERRUPT
 * stops a task without sending it a signal it could observe, and if crtool
 * dies the kernel detaches its tracees, which then run on (the dump can
 * never leave a target stuck because of a crash).
 */
import { addressOf, check, rawSyscall6, stableBuffer, syscallNumbers } from "./libc.js";
import { SyscallError } from "./errors.js";

const PTRACE_DETACH = 17;
const PTRACE_SEIZE = 0x4206;
const PTRACE_INTERRUPT = 0x4207;
const WNOHANG = 1;
const WALL = 0x40000000;

export function ptraceSeize(tid: number): void {
  check(rawSyscall6(syscallNumbers().ptrace, PTRACE_SEIZE, tid, 0, 0), "ptrace", `PTRACE_SEIZE of task ${tid}`);
}

export function ptraceInterrupt(tid: number): void {
  check(rawSyscall6(syscallNumbers().ptrace, PTRACE_INTERRUPT, tid, 0, 0), "ptrace", `PTRACE_INTERRUPT of task ${tid}`);
}

/** Detaches; with `signal` (e.g. SIGSTOP = 19) the task receives it as it resumes. */
export function ptraceDetach(tid: number, signal = 0): void {
  check(rawSyscall6(syscallNumbers().ptrace, PTRACE_DETACH, tid, 0, signal), "ptrace", `PTRACE_DETACH of task ${tid}`);
}

export type WaitResult = { kind: "stopped"; signal: number; event: number } | { kind: "exited"; status: number } | { kind: "killed"; signal: number };

const statusBuf = stableBuffer(4);

/** wait4(tid, WNOHANG | __WALL): undefined if the task has nothing to report yet. */
export function waitTaskNoHang(tid: number): WaitResult | undefined {
  // All four arguments: a fourth left to chance is a rusage pointer (EFAULT).
  const r = rawSyscall6(syscallNumbers().wait4, tid, addressOf(statusBuf), WNOHANG | WALL, 0);
  if (r === 0) return undefined;
  if (r < 0) throw new SyscallError({ syscall: "wait4", errno: -r, detail: `task ${tid}` });
  const s = statusBuf.readInt32LE(0);
  if ((s & 0xff) === 0x7f) return { kind: "stopped", signal: (s >> 8) & 0xff, event: (s >> 16) & 0xff };
  if ((s & 0x7f) === 0) return { kind: "exited", status: (s >> 8) & 0xff };
  return { kind: "killed", signal: s & 0x7f };
}

/**
 * wait4(tid, __WALL), blocking: for a tracee crtool has just resumed for one
 * step, which stops (or dies) within microseconds; polling would add a sleep
 * to every step.
 */
export function waitTaskBlocking(tid: number): WaitResult {
  for (;;) {
    const r = rawSyscall6(syscallNumbers().wait4, tid, addressOf(statusBuf), WALL, 0);
    if (r === -4) continue; // EINTR
    if (r < 0) throw new SyscallError({ syscall: "wait4", errno: -r, detail: `task ${tid}` });
    const s = statusBuf.readInt32LE(0);
    if ((s & 0xff) === 0x7f) return { kind: "stopped", signal: (s >> 8) & 0xff, event: (s >> 16) & 0xff };
    if ((s & 0x7f) === 0) return { kind: "exited", status: (s >> 8) & 0xff };
    return { kind: "killed", signal: s & 0x7f };
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread for `ms` milliseconds (no event loop turn). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Waits up to `timeoutMs` for the task's next stop or exit; undefined on timeout. */
export function waitTask(tid: number, timeoutMs: number): WaitResult | undefined {
  const deadline = Date.now() + timeoutMs;
  let pause = 0.05;
  for (;;) {
    const r = waitTaskNoHang(tid);
    if (r) return r;
    if (Date.now() >= deadline) return undefined;
    sleepSync(pause);
    pause = Math.min(pause * 2, 5);
  }
}
