/**
 * Buffered binary input over any source of chunks (a whole Uint8Array, an
 * async iterable of chunks such as a Node stream, or a web ReadableStream).
 * Parsing is synchronous over what is buffered; `fill` awaits more. Offsets are
 * absolute from the start of the input, for error messages.
 */

export type ImageSource = Uint8Array | AsyncIterable<Uint8Array> | ReadableStreamLike;

/**
 * Chunks that can also move ahead without being read (a file read by
 * position): a payload that is skipped (another map's contents, `--nopl`)
 * then costs no reading.
 */
export interface SkippableSource extends AsyncIterable<Uint8Array> {
  /** The next chunk starts n bytes further on. */
  skipAhead(n: number): void;
}

function isSkippable(s: unknown): s is SkippableSource {
  return typeof (s as SkippableSource).skipAhead === "function";
}

export interface ReadableStreamLike {
  getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; releaseLock(): void };
}

function isStreamLike(s: unknown): s is ReadableStreamLike {
  return typeof (s as ReadableStreamLike).getReader === "function";
}

async function* fromReadableStream(s: ReadableStreamLike): AsyncGenerator<Uint8Array> {
  const reader = s.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value) yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Uint8Array from any realm (a worker, a vm context, a browser frame). */
function isBytes(s: unknown): s is Uint8Array {
  return s instanceof Uint8Array || Object.prototype.toString.call(s) === "[object Uint8Array]";
}

export class InputBuffer {
  private buf: Uint8Array;
  private pos = 0;
  /** Absolute offset of buf[0]. */
  private base = 0;
  private iter: AsyncIterator<Uint8Array> | undefined;
  private skipper: SkippableSource | undefined;
  private ended: boolean;

  /** Bytes the whole input has, when known up front (a file): lengths are checked against it before reading. */
  readonly totalSize: number | undefined;

  constructor(source: ImageSource, totalSize?: number) {
    if (isBytes(source)) {
      this.buf = source;
      this.ended = true;
      this.totalSize = source.length;
    } else {
      this.buf = new Uint8Array(0);
      this.ended = false;
      this.totalSize = totalSize;
      const iterable = isStreamLike(source) ? fromReadableStream(source) : source;
      if (isSkippable(source)) this.skipper = source;
      this.iter = iterable[Symbol.asyncIterator]();
    }
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  /** True when every byte of the input has been read. */
  get atEnd(): boolean {
    return this.isEnded && this.pos >= this.buf.length;
  }

  /** No byte will be added to the buffer: the source ended, or all of its known size is in. */
  get isEnded(): boolean {
    return this.ended || (this.totalSize !== undefined && this.base + this.buf.length >= this.totalSize);
  }

  private async nextChunk(): Promise<Uint8Array | undefined> {
    if (this.ended) return undefined;
    for (;;) {
      const r = await this.iter!.next();
      if (r.done) {
        this.ended = true;
        return undefined;
      }
      const chunk = isBytes(r.value) ? r.value : new Uint8Array(r.value as ArrayBuffer);
      if (chunk.length > 0) return chunk;
    }
  }

  /** Reads at least one more chunk into the buffer, keeping unread bytes. False at end of input. */
  async fill(): Promise<boolean> {
    return this.ensure(this.available + 1);
  }

  /** Makes n bytes available if the input has them; false if it ends first. */
  async ensure(n: number): Promise<boolean> {
    if (this.available >= n) return true;
    // A length that goes past the known end fails now, before buffering anything for it.
    if (this.totalSize !== undefined && this.offset + n > this.totalSize) return false;
    // Collect first and join once: a large entry must not be copied once per chunk.
    const parts: Uint8Array[] = [];
    let have = this.available;
    while (have < n) {
      const chunk = await this.nextChunk();
      if (!chunk) break;
      parts.push(chunk);
      have += chunk.length;
    }
    if (parts.length > 0) {
      const rest = this.buf.subarray(this.pos);
      let merged: Uint8Array;
      if (rest.length === 0 && parts.length === 1) {
        merged = parts[0];
      } else {
        merged = new Uint8Array(have);
        merged.set(rest);
        let o = rest.length;
        for (const p of parts) {
          merged.set(p, o);
          o += p.length;
        }
      }
      this.base += this.pos;
      this.buf = merged;
      this.pos = 0;
    }
    if (!this.ended && this.totalSize !== undefined && this.base + this.buf.length >= this.totalSize) {
      // All of it is in: let the source go (a file's chunk reader closes its fd).
      this.ended = true;
      void this.iter?.return?.();
    }
    return have >= n;
  }

  u32At(rel: number): number {
    const b = this.buf;
    const p = this.pos + rel;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  /** The current buffer and the position of the next unread byte in it. */
  get buffer(): Uint8Array {
    return this.buf;
  }

  get position(): number {
    return this.pos;
  }

  /** The next n buffered bytes, consumed. The view stays valid (buffers are never reused). */
  take(n: number): Uint8Array {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    this.pos += n;
  }

  /**
   * Consumes up to n bytes, without reading them where the source can move
   * ahead (and the input's size is known); returns how many there were (less
   * than n at the end of the input).
   */
  async discard(n: number): Promise<number> {
    const buffered = Math.min(n, this.available);
    this.pos += buffered;
    const left = n - buffered;
    if (left === 0) return n;
    if (this.skipper && !this.ended && this.totalSize !== undefined) {
      const next = this.base + this.buf.length;
      const k = Math.min(left, this.totalSize - next);
      this.skipper.skipAhead(k);
      this.buf = new Uint8Array(0);
      this.pos = 0;
      this.base = next + k;
      if (this.base >= this.totalSize) {
        this.ended = true;
        void this.iter?.return?.();
      }
      return buffered + k;
    }
    let got = buffered;
    for await (const p of this.pieces(left)) got += p.length;
    return got;
  }

  /**
   * Streams up to n bytes (all that remain if n is undefined) in pieces of at
   * most `max` bytes, without buffering them all. Stops early at EOF; the
   * caller compares what it got with what it expected.
   */
  async *pieces(n: number | undefined, max = 1 << 20): AsyncGenerator<Uint8Array> {
    let left = n ?? Infinity;
    while (left > 0) {
      if (this.available === 0 && !(await this.fill())) return;
      const k = Math.min(left, this.available, max);
      left -= k;
      yield this.take(k);
    }
  }
}
