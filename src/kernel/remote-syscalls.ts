/**
 * System calls made by another process on crtool's behalf, through ptrace:
 * the way to change what only a process can change in itself (the
 * FD_CLOEXEC flag of its fds after exec, epoll items keyed by its own fd
 * numbers).
 *
 * `catchExec` takes a process that stopped itself just before an execve,
 * lets it exec and stops it at the syscall exit of that execve: the new
 * program is loaded, its fds are in place, and not one of its instructions
 * has run. `RemoteSyscalls` then runs calls in it: a `syscall` instruction is
 * written over the one at the program counter, the registers are set, one
 * instruction is single-stepped, and the result read from the return
 * register; `finish` puts the code and registers back. x86_64 only: other
 * architectures get a NotSupportedError and the caller's fallback.
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { readStat } from "./procfs.js";
import { addressOf, check, rawSyscall6, stableBuffer, syscallNumbers } from "./libc.js";
import { NotSupportedError, SyscallError } from "./errors.js";
import { ptraceDetach, sleepSync, waitTask, waitTaskBlocking, type WaitResult } from "./ptrace.js";

const PTRACE_CONT = 7;
const PTRACE_SINGLESTEP = 9;
const PTRACE_GETREGS = 12;
const PTRACE_SETREGS = 13;
const PTRACE_SYSCALL = 24;
const PTRACE_SEIZE = 0x4206;
const PTRACE_O_TRACESYSGOOD = 0x1;
const PTRACE_O_TRACEEXEC = 0x10;
const PTRACE_O_EXITKILL = 0x100000;
const PTRACE_EVENT_EXEC = 4;
const PTRACE_EVENT_STOP = 128;
const SIGTRAP = 5;
const SIGSTOP = 19;
const SIGCONT = 18;

/** user_regs_struct (x86_64): 27 u64 fields; the indexes crtool touches. */
const REGS_SIZE = 27 * 8;
const R = { r10: 7, r9: 8, r8: 9, rax: 10, rdx: 12, rsi: 13, rdi: 14, origRax: 15, rip: 16, rsp: 19 } as const;

/** The traced process did something other than what the injection expects (exited, was killed...). */
export class RemoteProcessError extends SyscallError {}

function lost(pid: number, what: string, r: WaitResult | undefined): RemoteProcessError {
  const how = !r ? "did not stop in time" : r.kind === "exited" ? `exited with status ${r.status}` : r.kind === "killed" ? `was killed by signal ${r.signal}` : `stopped with signal ${r.signal}`;
  return new RemoteProcessError({ syscall: "ptrace", errno: 3 /* ESRCH */, detail: `process ${pid} ${how} ${what}` });
}

function ptrace(request: number, pid: number, addr: number, data: number, what: string): void {
  check(rawSyscall6(syscallNumbers().ptrace, request, pid, addr, data), "ptrace", what);
}

/** True when this architecture has an implementation here. */
export function remoteSyscallsSupported(): boolean {
  return process.arch === "x64" && process.platform === "linux";
}

/** The one-letter state of a process (R, S, T...), or undefined when it is gone. */
function processState(pid: number): string | undefined {
  try {
    return readStat(pid).state;
  } catch {
    return undefined;
  }
}

/** Waits (blocking) until `pid` is stopped by a signal; false if it exited or the time ran out. */
export function waitSelfStopped(pid: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 0.05; ; pause = Math.min(pause * 2, 5)) {
    const s = processState(pid);
    if (s === "T") return true;
    if (s === undefined || s === "Z" || s === "X" || Date.now() >= deadline) return false;
    sleepSync(pause);
  }
}

/**
 * Seizes `pid` (stopped by its own SIGSTOP right before an execve), wakes
 * it, and returns once it is stopped at the exit of that execve. If crtool
 * dies from here on, the kernel kills the process (PTRACE_O_EXITKILL): it
 * never runs with half of its fixes. The caller must not let the event loop
 * run until it detaches: libuv would reap the ptrace stops as an exit.
 */
export function catchExec(pid: number, timeoutMs: number): void {
  ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL, `PTRACE_SEIZE of process ${pid}`);
  process.kill(pid, "SIGCONT");
  const deadline = Date.now() + timeoutMs;
  let execed = false;
  for (;;) {
    const r = waitTask(pid, Math.max(1, deadline - Date.now()));
    if (!r || r.kind !== "stopped") throw lost(pid, execed ? "after its execve" : "before its execve", r);
    if (execed && r.signal === (SIGTRAP | 0x80)) return;
    if (!execed && r.signal === SIGTRAP && r.event === PTRACE_EVENT_EXEC) {
      execed = true;
      ptrace(PTRACE_SYSCALL, pid, 0, 0, `PTRACE_SYSCALL of process ${pid}`);
      continue;
    }
    // A group stop (the SIGSTOP it sent itself) or a signal on its way: let it go on;
    // the SIGSTOP is dropped (it was only there to wait for crtool), others delivered.
    const deliver = r.event === PTRACE_EVENT_STOP || r.signal === SIGSTOP || r.signal === SIGCONT || (r.signal & 0x80) !== 0 ? 0 : r.signal;
    ptrace(execed ? PTRACE_SYSCALL : PTRACE_CONT, pid, 0, deliver, `resuming process ${pid}`);
  }
}

/** Runs system calls inside a process stopped by crtool at a syscall exit (see catchExec). */
export class RemoteSyscalls {
  private readonly saved = stableBuffer(REGS_SIZE);
  private readonly work = stableBuffer(REGS_SIZE);
  private readonly mem: number;
  private readonly site: number;
  private readonly original = Buffer.alloc(2);
  private readonly scratch: number;
  /** A signal that reached the process while crtool was stepping it; delivered on detach. */
  private pendingSignal = 0;
  private finished = false;

  constructor(readonly pid: number) {
    if (!remoteSyscallsSupported()) throw new NotSupportedError(`running system calls in another process is implemented for x86_64 only (this is ${process.arch})`);
    ptrace(PTRACE_GETREGS, pid, 0, addressOf(this.saved), `PTRACE_GETREGS of process ${pid}`);
    this.site = Number(this.saved.readBigUInt64LE(R.rip * 8));
    // Below the stack pointer and its red zone: memory the program is not using yet.
    this.scratch = Number((this.saved.readBigUInt64LE(R.rsp * 8) - 4096n) & ~15n);
    this.mem = openSync(`/proc/${pid}/mem`, "r+");
    try {
      if (readSync(this.mem, this.original, 0, 2, this.site) !== 2) throw new Error("short read");
      writeSync(this.mem, Buffer.from([0x0f, 0x05]), 0, 2, this.site); // syscall
    } catch (e) {
      closeSync(this.mem);
      throw new SyscallError({ syscall: "write", errno: (e as NodeJS.ErrnoException).errno ? Math.abs((e as NodeJS.ErrnoException).errno!) : 5, detail: `/proc/${pid}/mem at 0x${this.site.toString(16)}` });
    }
  }

  /** Copies `bytes` into the process's scratch memory; returns their address there. */
  put(bytes: Uint8Array): number {
    if (bytes.length > 2048) throw new RangeError("scratch memory holds 2048 bytes");
    writeSync(this.mem, bytes, 0, bytes.length, this.scratch);
    return this.scratch;
  }

  /** syscall(nr, ...args) in the process: its result, or -errno. */
  call(nr: number, ...args: number[]): number {
    this.work.set(this.saved);
    const regs = [R.rdi, R.rsi, R.rdx, R.r10, R.r8, R.r9];
    args.forEach((a, i) => this.work.writeBigUInt64LE(BigInt.asUintN(64, BigInt(a)), regs[i] * 8));
    this.work.writeBigUInt64LE(BigInt(nr), R.rax * 8);
    // Not in a system call as far as signal restarting is concerned.
    this.work.writeBigInt64LE(-1n, R.origRax * 8);
    this.work.writeBigUInt64LE(BigInt(this.site), R.rip * 8);
    ptrace(PTRACE_SETREGS, this.pid, 0, addressOf(this.work), `PTRACE_SETREGS of process ${this.pid}`);
    for (;;) {
      ptrace(PTRACE_SINGLESTEP, this.pid, 0, 0, `PTRACE_SINGLESTEP of process ${this.pid}`);
      const r = waitTaskBlocking(this.pid);
      if (r.kind !== "stopped") throw lost(this.pid, "while running a system call for crtool", r);
      ptrace(PTRACE_GETREGS, this.pid, 0, addressOf(this.work), `PTRACE_GETREGS of process ${this.pid}`);
      if (Number(this.work.readBigUInt64LE(R.rip * 8)) === this.site + 2) break;
      // Stopped before the instruction ran (a signal arrived): keep the signal for later, step again.
      if (r.signal !== SIGTRAP && (r.signal & 0x80) === 0) this.pendingSignal = r.signal;
    }
    return Number(this.work.readBigInt64LE(R.rax * 8));
  }

  /** Puts the code and registers back and lets the process run. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    try {
      writeSync(this.mem, this.original, 0, 2, this.site);
      ptrace(PTRACE_SETREGS, this.pid, 0, addressOf(this.saved), `PTRACE_SETREGS of process ${this.pid}`);
    } finally {
      closeSync(this.mem);
    }
    ptraceDetach(this.pid, this.pendingSignal);
  }

  /** Gives up: closes crtool's handle on the memory (the caller kills the process). */
  abandon(): void {
    if (this.finished) return;
    this.finished = true;
    closeSync(this.mem);
  }
}
