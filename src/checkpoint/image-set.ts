/**
 * The images of a dump directory being written: one file per image, opened
 * on first use (mode 0600), entries appended as they come, payloads streamed.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ImageEncoder } from "../images/image-encoder.js";
import { CrtoolError, EncodeError, IoError } from "../images/errors.js";
import type { MagicName } from "../images/magic.js";
import type { ImageMessage } from "../images/wire/message.js";
import { roundUp, type Payload } from "../images/payloads/layout.js";
import type { ImageSink, RawImage } from "./dump-context.js";

function writeAll(fd: number, bytes: Uint8Array, path: string): void {
  let off = 0;
  try {
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new IoError(`${path}: ${err.code === "ENOSPC" ? "no space left on device" : err.message}`);
  }
}

/** Small entries are gathered into one write of about this size. */
const WRITE_BUFFER = 1 << 16;

class ImageFile implements ImageSink {
  private readonly encoder: ImageEncoder;
  private readonly fd: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  bytes = 0;

  constructor(readonly path: string, readonly magic: MagicName) {
    this.encoder = new ImageEncoder(magic);
    try {
      this.fd = openSync(path, "wx", 0o600);
    } catch (e) {
      throw new IoError(`${path}: ${(e as Error).message}`);
    }
    this.write(this.encoder.header());
  }

  private write(b: Uint8Array): void {
    this.bytes += b.length;
    if (b.length >= WRITE_BUFFER) {
      this.flush();
      writeAll(this.fd, b, this.path);
      return;
    }
    this.pending.push(b);
    this.pendingBytes += b.length;
    if (this.pendingBytes >= WRITE_BUFFER) this.flush();
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    writeAll(this.fd, all, this.path);
  }

  private located<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation({ file: this.path }) : e;
    }
  }

  append(message: ImageMessage, payload?: Payload): void {
    for (const piece of this.located(() => this.encoder.entry(message, payload))) this.write(piece);
  }

  async appendStreamed(message: ImageMessage, pieces: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const index = this.encoder.count;
    const { bytes, layout } = this.located(() => this.encoder.entryHead(message));
    if (!layout || layout.kind !== "bytes") throw new EncodeError(`${this.path}: entry ${index} takes no byte payload`);
    this.write(bytes);
    let n = 0;
    for await (const p of pieces) {
      n += p.length;
      if (n > layout.size) throw new EncodeError(`${this.path}: entry ${index}: payload longer than the ${layout.size} bytes announced`);
      this.write(p);
    }
    if (n !== layout.size) throw new EncodeError(`${this.path}: entry ${index}: payload of ${n} bytes, ${layout.size} announced`);
    const pad = roundUp(n, layout.align) - n;
    if (pad) this.write(new Uint8Array(pad));
  }

  appendPieces(message: ImageMessage, pieces: Uint8Array[]): void {
    const index = this.encoder.count;
    const { bytes, layout } = this.located(() => this.encoder.entryHead(message));
    if (!layout || layout.kind !== "bytes") throw new EncodeError(`${this.path}: entry ${index} takes no byte payload`);
    const n = pieces.reduce((sum, p) => sum + p.length, 0);
    if (n !== layout.size) throw new EncodeError(`${this.path}: entry ${index}: payload of ${n} bytes, ${layout.size} announced`);
    this.write(bytes);
    // Small pieces wait in the write buffer: copied, since the caller reuses them.
    for (const p of pieces) if (p.length > 0) this.write(p.length >= WRITE_BUFFER ? p : p.slice());
    const pad = roundUp(n, layout.align) - n;
    if (pad) this.write(new Uint8Array(pad));
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

/** A raw image (pages-N.img): bytes only, no header. */
class RawImageFile implements RawImage {
  private readonly fd: number;
  bytes = 0;

  constructor(readonly path: string, readonly id: number) {
    try {
      this.fd = openSync(path, "wx", 0o600);
    } catch (e) {
      throw new IoError(`${path}: ${(e as Error).message}`);
    }
  }

  write(b: Uint8Array): void {
    writeAll(this.fd, b, this.path);
    this.bytes += b.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export class ImageSet {
  private readonly files = new Map<string, ImageFile>();
  private readonly raw: RawImageFile[] = [];

  constructor(readonly dir: string) {}

  image(fileName: string, magic: MagicName): ImageSink {
    let f = this.files.get(fileName);
    if (!f) {
      f = new ImageFile(join(this.dir, fileName), magic);
      this.files.set(fileName, f);
    } else if (f.magic !== magic) {
      throw new EncodeError(`${fileName} is a ${f.magic} image, not ${magic}`);
    }
    return f;
  }

  /** The next pages-N.img (N = 1, 2, ...). */
  pagesImage(): RawImage {
    const id = this.raw.length + 1;
    const f = new RawImageFile(join(this.dir, `pages-${id}.img`), id);
    this.raw.push(f);
    return f;
  }

  /** Bytes written so far, over all images. */
  get bytes(): number {
    let n = 0;
    for (const f of [...this.files.values(), ...this.raw]) n += f.bytes;
    return n;
  }

  /** How many image files have been written. */
  get count(): number {
    return this.files.size + this.raw.length;
  }

  /**
   * Writes what is buffered and closes every image. On the way to a complete
   * dump the first failure (a full disk) is thrown; on an error path
   * (`ignoreErrors`) closing is best effort.
   */
  closeAll(ignoreErrors = false): void {
    let first: unknown;
    for (const f of [...this.files.values(), ...this.raw]) {
      try {
        f.close();
      } catch (e) {
        first ??= e;
      }
    }
    this.files.clear();
    this.raw.length = 0;
    if (first !== undefined && !ignoreErrors) throw first;
  }
}
