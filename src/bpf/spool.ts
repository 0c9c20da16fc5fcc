/**
 * Scratch files for map contents on their way to an image.
 *
 * CRIU's bpfmap-data payload is all keys, then all values, behind an entry
 * that states the element count up front; the count is known only once the
 * whole map has been read, and reading a map twice is only consistent if
 * nothing writes it meanwhile. So contents are read once, keys and values
 * each appended to their own scratch file, and copied into the image after.
 * The files are unlinked from the start (O_TMPFILE, or created and unlinked
 * at once), so nothing is left behind however the dump ends, and their bytes
 * sit in the page cache rather than in this process's memory.
 */
import { closeSync, constants, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytesFromKernel } from "../kernel/random.js";
import { IoError } from "../images/errors.js";
import type { FileRange } from "../contract/dump-context.js";

/** Linux's __O_TMPFILE (the same on x86_64 and aarch64); Node does not export O_TMPFILE. */
const O_TMPFILE_BIT = 0o20000000;
/** Bytes per piece when a spool is read back. */
export const SPOOL_PIECE = 1 << 20;

function openTmpfile(dir: string): number {
  try {
    return openSync(dir, O_TMPFILE_BIT | constants.O_DIRECTORY | constants.O_RDWR, 0o600);
  } catch {
    // Filesystems without O_TMPFILE support (and old kernels): a private name, unlinked at once.
  }
  const path = join(dir, `.crtool-spool-${process.pid}-${randomBytesFromKernel(6).toString("hex")}`);
  let fd: number;
  try {
    fd = openSync(path, "wx+", 0o600);
  } catch (e) {
    throw new IoError(`cannot create a scratch file in ${dir}: ${(e as Error).message}`);
  }
  unlinkSync(path);
  return fd;
}

/** An anonymous file written front to back, then read back (forwards or by position). */
export class SpoolFile {
  private fd: number;
  /** Bytes written so far. */
  size = 0;

  constructor(readonly dir: string = tmpdir()) {
    this.fd = openTmpfile(dir);
  }

  append(bytes: Uint8Array): void {
    let off = 0;
    try {
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off, this.size + off);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new IoError(`scratch file in ${this.dir}: ${err.code === "ENOSPC" ? "no space left on device" : err.message}`);
    }
    this.size += bytes.length;
  }

  /** Reads bytes [position, position + into.length) into `into`. */
  readAt(into: Uint8Array, position: number): void {
    let off = 0;
    while (off < into.length) {
      const n = readSync(this.fd, into, off, into.length - off, position + off);
      if (n === 0) throw new IoError(`scratch file in ${this.dir}: ended at ${position + off} of ${this.size} bytes`);
      off += n;
    }
  }

  /**
   * The whole contents in order, in pieces of at most `pieceSize` bytes read
   * into one buffer: a piece is valid until the next one is asked for (fresh
   * memory for every piece costs more than the read, on machines where page
   * faults are slow).
   */
  *pieces(pieceSize = SPOOL_PIECE): Generator<Uint8Array> {
    const buf = Buffer.allocUnsafeSlow(Math.min(pieceSize, this.size));
    for (let pos = 0; pos < this.size; pos += pieceSize) {
      const piece = buf.subarray(0, Math.min(pieceSize, this.size - pos));
      this.readAt(piece, pos);
      yield piece;
    }
  }

  /** The whole contents as a file range. */
  range(): FileRange {
    return { fd: this.fd, offset: 0, length: this.size };
  }

  /** Drops everything from byte `size` on. */
  truncate(size: number): void {
    if (size >= this.size) return;
    ftruncateSync(this.fd, size);
    this.size = size;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** A map's contents on their way to an image: every key, then every value. */
export interface SpooledContents {
  count: number;
  keysBytes: number;
  valuesBytes: number;
  /** The payload in order; each piece is valid until the next is asked for. */
  pieces(): Iterable<Uint8Array>;
  /** The payload as ranges of scratch files, when it is all in files (else undefined). */
  ranges?(): FileRange[] | undefined;
  close(): void;
}

/** Where map readers put elements: n keys and n values at a time (views valid only during the call). */
export interface ElementSink {
  add(keys: Uint8Array, values: Uint8Array, count: number): void;
}

/** An ElementSink that spools keys and values apart, to be read back as "all keys, then all values". */
export class ElementSpool implements ElementSink, SpooledContents {
  readonly keys: SpoolFile;
  readonly values: SpoolFile;
  count = 0;

  constructor(dir?: string) {
    this.keys = new SpoolFile(dir);
    try {
      this.values = new SpoolFile(dir);
    } catch (e) {
      this.keys.close();
      throw e;
    }
  }

  add(keys: Uint8Array, values: Uint8Array, count: number): void {
    if (keys.length) this.keys.append(keys);
    if (values.length) this.values.append(values);
    this.count += count;
  }

  ranges(): FileRange[] {
    return [this.keys.range(), this.values.range()];
  }

  /** Keeps the first `count` elements only. */
  truncate(count: number, keySize: number, stride: number): void {
    this.keys.truncate(count * keySize);
    this.values.truncate(count * stride);
    this.count = Math.min(this.count, count);
  }

  get keysBytes(): number {
    return this.keys.size;
  }

  get valuesBytes(): number {
    return this.values.size;
  }

  /** The payload: every key, then every value. */
  *pieces(): Generator<Uint8Array> {
    yield* this.keys.pieces();
    yield* this.values.pieces();
  }

  close(): void {
    this.keys.close();
    this.values.close();
  }
}

/**
 * Contents up to this size stay in memory; beyond it they go to scratch
 * files. Small: writing to the page cache costs about a tenth of what fresh
 * memory does where page faults are slow (a virtual machine: ~45 ms for
 * 12 MB of new memory, ~5 ms to write it to a file).
 */
const IN_MEMORY_LIMIT = 1 << 20;

/**
 * An ElementSink that keeps small maps' contents in memory (no scratch
 * files to write and read back) and spills to an ElementSpool once they
 * grow past IN_MEMORY_LIMIT, so large maps never sit in memory.
 */
export class ElementBuffer implements ElementSink, SpooledContents {
  private keys: Uint8Array[] = [];
  private values: Uint8Array[] = [];
  private bytes = 0;
  private spool: ElementSpool | undefined;
  count = 0;
  keysBytes = 0;
  valuesBytes = 0;

  constructor(private readonly dir?: string) {}

  add(keys: Uint8Array, values: Uint8Array, count: number): void {
    this.count += count;
    this.keysBytes += keys.length;
    this.valuesBytes += values.length;
    if (this.spool) {
      this.spool.add(keys, values, count);
      return;
    }
    // Views are only valid during the call: keep copies.
    this.keys.push(Buffer.from(keys));
    this.values.push(Buffer.from(values));
    this.bytes += keys.length + values.length;
    if (this.bytes > IN_MEMORY_LIMIT) this.spill();
  }

  private spill(): void {
    const spool = new ElementSpool(this.dir);
    for (let i = 0; i < this.keys.length; i++) spool.add(this.keys[i], this.values[i], 0);
    this.keys = [];
    this.values = [];
    this.spool = spool;
  }

  ranges(): FileRange[] | undefined {
    return this.spool?.ranges();
  }

  /** The payload: every key, then every value. */
  *pieces(): Generator<Uint8Array> {
    if (this.spool) {
      yield* this.spool.pieces();
      return;
    }
    yield* this.keys;
    yield* this.values;
  }

  close(): void {
    this.spool?.close();
    this.keys = [];
    this.values = [];
  }
}
