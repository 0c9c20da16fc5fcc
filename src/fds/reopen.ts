/**
 * crtool's own open file on the same inode as a grabbed fd, through
 * /proc/self/fd/N. Reading contents this way leaves the task's file offset
 * alone (a grabbed fd shares it), works for write-only and deleted files, and
 * is what CRIU does for ghost files, build-ids and memfds.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { IoError } from "../images/errors.js";
import { O_RDONLY } from "../kernel/index.js";

export function reopen(lfd: number, flags = O_RDONLY): number {
  return openSync(`/proc/self/fd/${lfd}`, flags);
}

/** Runs `fn` on a fresh read-only open of the grabbed fd's file, closing it afterwards. */
export function withReopened<T>(lfd: number, fn: (fd: number) => T): T {
  const fd = reopen(lfd);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** withReopened for an async `fn`: the file stays open until its promise settles. */
export async function withReopenedAsync<T>(lfd: number, fn: (fd: number) => Promise<T>): Promise<T> {
  const fd = reopen(lfd);
  try {
    return await fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** Up to `length` bytes at `offset` (fewer only at end of file). */
export function preadFully(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** `length` bytes from `offset`, in pieces of at most `piece` bytes, for streamed payloads. */
export function* readPieces(fd: number, offset: number, length: number, piece = 1 << 20): Generator<Uint8Array> {
  let done = 0;
  while (done < length) {
    const want = Math.min(piece, length - done);
    const b = preadFully(fd, offset + done, want);
    // The entry already announced `length` bytes; a file that shrank meanwhile cannot be saved consistently.
    if (b.length < want) throw new IoError(`file shrank while being saved: ${offset + done + b.length} bytes, ${offset + length} expected`);
    yield b;
    done += want;
  }
}
