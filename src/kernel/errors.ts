/**
 * Errors raised by the kernel layer. A failed system call becomes a
 * SyscallError whose `code` is the errno name ("ENOENT"), so callers match
 * with `err.code === "ENOENT"` (or `isErrno(err, "ENOENT")`) instead of
 * remembering numbers. They extend CrtoolError so the CLI prints them as one
 * line like every other user-facing failure.
 */
import { CrtoolError, NotSupportedError } from "../errors/base.js";
import { ERRNO_TABLE, type ErrnoName } from "./errno-table.js";

export { NotSupportedError };
export type { ErrnoName };

const NAME_BY_NUMBER = new Map<number, ErrnoName>();
const TEXT_BY_NUMBER = new Map<number, string>();
const NUMBER_BY_NAME = new Map<string, number>();
for (const [num, name, text] of ERRNO_TABLE) {
  NAME_BY_NUMBER.set(num, name);
  TEXT_BY_NUMBER.set(num, text);
  NUMBER_BY_NAME.set(name, num);
}
// Aliases glibc defines; they share their number with the canonical name.
NUMBER_BY_NAME.set("EWOULDBLOCK", 11);
NUMBER_BY_NAME.set("EDEADLOCK", 35);

/** "ENOENT" for 2; "E<number>" for numbers the table does not know. */
export function errnoName(errno: number): string {
  return NAME_BY_NUMBER.get(errno) ?? `E${errno}`;
}

/** strerror()-like text; "Unknown error N" as glibc says for unknown numbers. */
export function errnoText(errno: number): string {
  return TEXT_BY_NUMBER.get(errno) ?? `Unknown error ${errno}`;
}

/** 2 for "ENOENT"; throws for a name that is not an errno. */
export function errnoNumber(name: ErrnoName | "EWOULDBLOCK" | "EDEADLOCK"): number {
  const n = NUMBER_BY_NAME.get(name);
  if (n === undefined) throw new TypeError(`unknown errno name ${name}`);
  return n;
}

export interface SyscallErrorInit {
  /** The system call ("bpf", "pidfd_getfd", "close"...). */
  syscall: string;
  /** For multiplexed calls such as bpf(2): the command ("BPF_MAP_CREATE"). */
  operation?: string;
  errno: number;
  /** Extra context appended to the message (which fd, which path...). */
  detail?: string;
}

/** A system call returned -1; `code` is the errno name. */
export class SyscallError extends CrtoolError {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly operation: string | undefined;
  /**
   * The call and its error without the detail ("bpf(BPF_OBJ_PIN): Operation
   * not permitted (EPERM)"): for messages that name the user's object
   * themselves, as the detail names crtool's own fds.
   */
  readonly brief: string;

  constructor(init: SyscallErrorInit) {
    const call = init.operation ? `${init.syscall}(${init.operation})` : init.syscall;
    const name = errnoName(init.errno);
    const detail = init.detail ? `; ${init.detail}` : "";
    const brief = `${call}: ${errnoText(init.errno)} (${name})`;
    super(`${brief}${detail}`);
    this.brief = brief;
    this.code = name;
    this.errno = init.errno;
    this.syscall = init.syscall;
    this.operation = init.operation;
  }
}

/**
 * A batch command (BPF_MAP_*_BATCH) failed part-way: `count` elements were
 * processed before the error (the kernel writes that count back even on
 * failure), so a caller can resume after them.
 */
export class BatchError extends SyscallError {
  readonly count: number;
  constructor(init: SyscallErrorInit & { count: number }) {
    super({ ...init, detail: joinDetail(`${init.count} elements processed`, init.detail) });
    this.count = init.count;
  }
}

/**
 * ENOSPC from BPF_MAP_LOOKUP_BATCH: hash maps never split a bucket across
 * batches, so a batch smaller than the most crowded bucket cannot return
 * anything. Grow the batch and call again with the same token; nothing was
 * consumed.
 */
export class BatchTooSmallError extends BatchError {
  readonly batchSize: number;
  constructor(init: SyscallErrorInit & { count: number; batchSize: number }) {
    super({ ...init, detail: joinDetail(`a hash bucket holds more than ${init.batchSize} elements; use a larger batch`, init.detail) });
    this.batchSize = init.batchSize;
  }
}

/** BTF_LOAD / PROG_LOAD failures carry the kernel's verifier log. */
export class BpfLogError extends SyscallError {
  readonly log: string;
  constructor(init: SyscallErrorInit & { log: string }) {
    const last = lastLine(init.log);
    super({ ...init, detail: joinDetail(last ? `kernel log: ${last}` : undefined, init.detail) });
    this.log = init.log;
  }
}

/** True when `err` is a SyscallError with the given errno name. */
export function isErrno(err: unknown, name: ErrnoName): err is SyscallError {
  return err instanceof SyscallError && err.code === name;
}

function joinDetail(a: string | undefined, b: string | undefined): string | undefined {
  if (a && b) return `${a}; ${b}`;
  return a ?? b;
}

function lastLine(log: string): string {
  const lines = log.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.length > 0 ? lines[lines.length - 1] : "";
}

/** A /proc or /sys file did not have the shape the kernel documents. */
export class ProcfsParseError extends CrtoolError {
  readonly code: string = "PROCFS_PARSE";
}
