/**
 * Small pieces every restoring kind uses: opening paths (Node's errors
 * turned into SyscallErrors, so the CLI prints one line), reopening an fd
 * of crtool's through /proc/self/fd with other flags, setting the recorded
 * status flags and offset, and fds owned by the restore code until they
 * are handed out, closed exactly once.
 *
 * Every fd crtool opens here has FD_CLOEXEC (Node's open adds O_CLOEXEC,
 * the kinds pass their *_CLOEXEC flags): the descriptor flag is the fd
 * table's business (fdinfo-N.img), not the open file's.
 */
import { openSync } from "node:fs";
import type { RestoreContext } from "../contract/restore-context.js";
import { F_SETFL, SyscallError, close, fcntl, isErrno } from "../kernel/index.js";
import { NotSupportedError } from "../images/errors.js";
import { O_CLOEXEC, O_EXCL, O_PATH } from "../kernel/index.js";
import { SEEK_SET, lseek } from "../kernel/index.js";

const O_CREAT = 0o100;
const O_NOCTTY = 0o400;
const O_TRUNC = 0o1000;
/** O_TMPFILE without O_DIRECTORY: the part that makes open create a file. */
const O_TMPFILE_BIT = 0o20000000;

/**
 * The recorded flags as open(2) may take them: never create, truncate or
 * make a new unnamed file on restore (the kernel does not keep these bits in
 * an open file's flags, so they come only from a crafted image), and no
 * O_CLOEXEC (the fd table decides).
 */
export function openFlags(recorded: number): number {
  return recorded & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_TMPFILE_BIT | O_CLOEXEC);
}

/** A Node fs error as crtool's SyscallError (errno name, one-line message with `detail`). */
export function asSyscallError(e: unknown, detail: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.errno !== "number" || typeof err.syscall !== "string") return e;
  return new SyscallError({ syscall: err.syscall, errno: Math.abs(err.errno), detail });
}

/** Runs a Node fs call, rethrowing its error as a SyscallError naming `detail`. */
export function fsCall<T>(detail: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw asSyscallError(e, detail);
  }
}

/** open(2) of a path (any bytes); FD_CLOEXEC set. */
export function openPath(path: Uint8Array, flags: number, mode = 0o600): number {
  return fsCall(Buffer.from(path).toString(), () => openSync(Buffer.from(path), flags, mode));
}

/** A new open file of whatever crtool's `fd` is, with `flags`: pipes, FIFOs, unlinked files and memfds included. */
export function reopenFd(fd: number, flags: number): number {
  return fsCall(`reopening fd ${fd} through /proc/self/fd`, () => openSync(`/proc/self/fd/${fd}`, flags));
}

/** The recorded status flags (O_NONBLOCK, O_APPEND, O_ASYNC...); F_SETFL ignores the access mode and creation bits. */
export function setStatusFlags(fd: number, flags: number): void {
  if (flags & O_PATH) return;
  fcntl(fd, F_SETFL, flags & ~O_CLOEXEC);
}

/** pos = -1 (CRIU's "do not seek", /dev/kmsg) leaves the offset alone. */
const NO_SEEK = 0xffffffffffffffffn;

/** Sets the file offset the task had. */
export function seekTo(fd: number, pos: bigint, what: string): void {
  if (pos === NO_SEEK || pos === 0n) return;
  if (pos > BigInt(Number.MAX_SAFE_INTEGER)) throw new NotSupportedError(`${what}: offset ${pos} is beyond what crtool can seek to (2^53)`);
  lseek(fd, Number(pos), SEEK_SET);
}

/** close(2), ignoring an fd that is already gone. */
export function closeQuietly(fd: number): void {
  try {
    close(fd);
  } catch (e) {
    if (!isErrno(e, "EBADF")) throw e;
  }
}

/**
 * An fd the restore code holds for a while (a pipe's other end, a ghost
 * file before its open files exist): closed by close() or by the restore's
 * rollback, whichever comes first, and never twice (a closed number may
 * already belong to another file). release() hands it over instead.
 */
export class OwnedFd {
  private open = true;

  constructor(readonly fd: number, ctx?: RestoreContext) {
    ctx?.onRollback(() => this.close());
  }

  get isOpen(): boolean {
    return this.open;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    closeQuietly(this.fd);
  }

  /** The fd, now the caller's to close. */
  release(): number {
    if (!this.open) throw new Error(`fd ${this.fd} was already closed or handed out`);
    this.open = false;
    return this.fd;
  }
}

/** Runs `setup` on a newly opened fd and returns it; closes it if setup fails. */
export async function finishFd(fd: number, setup: (fd: number) => void | Promise<void>): Promise<{ fd: number }> {
  try {
    await setup(fd);
    return { fd };
  } catch (e) {
    closeQuietly(fd);
    throw e;
  }
}
