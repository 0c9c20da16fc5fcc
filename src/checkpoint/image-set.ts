/**
 * The images of a dump directory being written: one file per image, opened
 * on first use (mode 0600), entries appended as they come, payloads streamed.
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { copyFileRange } from "../kernel/index.js";
import { join } from "node:path";
import { ImageEncoder } from "../images/image-encoder.js";
import { CrtoolError, EncodeError, IoError } from "../images/errors.js";
import type { MagicName } from "../images/magic.js";
import type { ImageMessage } from "../images/wire/message.js";
import { roundUp, type Payload, type PayloadLayout } from "../images/payloads/layout.js";
import { encodePayload } from "../images/image-encoder.js";
import { Writer } from "../images/wire/writer.js";
import type { FileRange, ImageSink, RawImage } from "../contract/dump-context.js";

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
  /** What is not written yet: entries are encoded straight into it, written in ~64 KiB writes. */
  private readonly out = new Writer();
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

  /** Appends bytes (copied, or written at once when large: the caller may reuse them). */
  private write(b: Uint8Array): void {
    this.bytes += b.length;
    if (b.length >= WRITE_BUFFER) {
      this.flush();
      writeAll(this.fd, b, this.path);
      return;
    }
    this.out.raw(b);
    if (this.out.pos >= WRITE_BUFFER) this.flush();
  }

  private flush(): void {
    if (this.out.pos === 0) return;
    writeAll(this.fd, this.out.buf.subarray(0, this.out.pos), this.path);
    this.out.reset();
  }

  private located<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation({ file: this.path }) : e;
    }
  }

  /** The entry's message, encoded into the buffer; its payload layout. */
  private head(message: ImageMessage): PayloadLayout | undefined {
    const before = this.out.pos;
    const layout = this.located(() => this.encoder.entryHeadInto(this.out, message));
    this.bytes += this.out.pos - before;
    if (this.out.pos >= WRITE_BUFFER) this.flush();
    return layout;
  }

  append(message: ImageMessage, payload?: Payload): void {
    const index = this.encoder.count;
    const layout = this.head(message);
    if (!layout) return;
    let pieces: Uint8Array[];
    try {
      pieces = encodePayload(layout, payload);
    } catch (e) {
      throw e instanceof CrtoolError ? e.withLocation({ file: this.path, entry: index }) : e;
    }
    for (const piece of pieces) this.write(piece);
  }

  async appendStreamed(message: ImageMessage, pieces: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const index = this.encoder.count;
    const layout = this.bytesPayload(this.encoder.nextLayout(message), index);
    this.head(message);
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
    const layout = this.bytesPayload(this.encoder.nextLayout(message), index);
    const n = pieces.reduce((sum, p) => sum + p.length, 0);
    if (n !== layout.size) throw new EncodeError(`${this.path}: entry ${index}: payload of ${n} bytes, ${layout.size} announced`);
    this.head(message);
    for (const p of pieces) if (p.length > 0) this.write(p);
    const pad = roundUp(n, layout.align) - n;
    if (pad) this.write(new Uint8Array(pad));
  }

  appendRanges(message: ImageMessage, ranges: FileRange[]): void {
    const index = this.encoder.count;
    const layout = this.bytesPayload(this.encoder.nextLayout(message), index);
    const n = ranges.reduce((sum, r) => sum + r.length, 0);
    if (n !== layout.size) throw new EncodeError(`${this.path}: entry ${index}: payload of ${n} bytes, ${layout.size} announced`);
    this.head(message);
    this.flush();
    let buf: Buffer | undefined;
    for (const r of ranges) {
      if (r.length === 0) continue;
      this.bytes += r.length;
      try {
        if (copyFileRange(r.fd, r.offset, this.fd, r.length)) continue;
      } catch (e) {
        throw new IoError(`${this.path}: ${(e as Error).message}`);
      }
      // Files the kernel cannot copy between: through one reused buffer.
      buf ??= Buffer.allocUnsafeSlow(Math.min(1 << 20, n));
      for (let done = 0; done < r.length; ) {
        const got = readSync(r.fd, buf, 0, Math.min(buf.length, r.length - done), r.offset + done);
        if (got === 0) throw new IoError(`${this.path}: a scratch file ended ${r.length - done} bytes early`);
        writeAll(this.fd, buf.subarray(0, got), this.path);
        done += got;
      }
    }
    const pad = roundUp(n, layout.align) - n;
    if (pad) this.write(new Uint8Array(pad));
  }

  private bytesPayload(layout: PayloadLayout | undefined, index: number): PayloadLayout & { kind: "bytes" } {
    if (!layout || layout.kind !== "bytes") throw new EncodeError(`${this.path}: entry ${index} takes no byte payload`);
    return layout;
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
