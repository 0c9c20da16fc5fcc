/**
 * MapBatchReader: a whole-map LOOKUP_BATCH cursor for the hot dump path (the
 * batch rules it follows are described in bpf-batch.ts).
 */
import { BpfAttr, bpfRaw, bpfRawAsync } from "./bpf-attr.js";
import { BATCH, ENOENT, batchError, batchTokenSize } from "./bpf-batch.js";
import { BPF_CMD } from "./bpf-constants.js";
import { kernelValueSize } from "./bpf-info.js";
import { BatchTooSmallError } from "./errors.js";
import { addressOf, stableBuffer } from "./libc.js";

export interface MapBatchReaderOptions {
  keySize: number;
  /** Bytes per value as the kernel copies it (kernelValueSize). */
  valueSize: number;
  /** Elements per call; default 4096. */
  batchSize?: number;
  /** BPF_F_LOCK for maps with a bpf_spin_lock in the value. */
  elemFlags?: number | bigint;
  /** Use LOOKUP_AND_DELETE_BATCH, draining the map as it reads. */
  deleting?: boolean;
  /** On ENOSPC, double the batch and retry instead of throwing BatchTooSmallError. */
  autoGrow?: boolean;
}

export const DEFAULT_BATCH_SIZE = 4096;

/**
 * A cursor over a whole map with LOOKUP_BATCH, allocation-free per call:
 * its attr, token, keys and values buffers are made once (and on grow), and
 * after next() the first `count` keys/values are valid until the next call.
 *
 *   const r = MapBatchReader.forMap(fd, info);
 *   while (!r.done) { const n = r.next(); for (let i = 0; i < n; i++) use(r.keys, r.values, i); }
 */
export class MapBatchReader {
  keys!: Buffer;
  values!: Buffer;
  /** Elements valid in keys/values after the last next(). */
  count = 0;
  /** The last call reached the end of the map. */
  done = false;
  batchSize: number;
  /**
   * At most this many elements in the next calls, when smaller than
   * batchSize: a reader of a range of buckets asks for about what the range
   * has left (a call never stops at a bucket of the caller's choosing, only
   * at a count). Dropped when one bucket holds more (the call is retried).
   */
  limit: number | undefined;
  readonly keySize: number;
  readonly valueSize: number;
  private readonly attr = new BpfAttr();
  private readonly token: Buffer;
  private readonly tokenAddress: number;
  private readonly cmd: number;
  private readonly autoGrow: boolean;
  private started = false;
  private busy = false;

  private mapFd: number;

  /** The map this reader reads (see retarget). */
  get fd(): number {
    return this.mapFd;
  }

  constructor(fd: number, opts: MapBatchReaderOptions) {
    this.mapFd = fd;
    this.keySize = opts.keySize;
    this.valueSize = opts.valueSize;
    this.batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new RangeError(`batch size ${this.batchSize} must be a positive integer`);
    this.cmd = opts.deleting ? BPF_CMD.MAP_LOOKUP_AND_DELETE_BATCH : BPF_CMD.MAP_LOOKUP_BATCH;
    this.autoGrow = opts.autoGrow ?? false;
    this.token = stableBuffer(batchTokenSize(this.keySize));
    this.tokenAddress = addressOf(this.token);
    this.attr.setU64(BATCH.outBatch, this.tokenAddress);
    this.attr.setU32(BATCH.mapFd, fd);
    this.attr.setU64(BATCH.elemFlags, opts.elemFlags ?? 0);
    this.allocate(this.batchSize);
  }

  /** A reader sized from a map's info (per-CPU values included). */
  static forMap(fd: number, info: { type: number; keySize: number; valueSize: number }, opts: Partial<MapBatchReaderOptions> = {}): MapBatchReader {
    return new MapBatchReader(fd, { ...opts, keySize: info.keySize, valueSize: kernelValueSize(info.type, info.valueSize) });
  }

  /** Reads the next batch; returns its element count (0 once done). */
  next(): number {
    for (;;) {
      if (this.done) return (this.count = 0);
      this.enter();
      let r: number;
      try {
        r = bpfRaw(this.cmd, this.prepare());
      } finally {
        this.busy = false;
      }
      const n = this.settle(r);
      if (n >= 0) return n;
    }
  }

  /** next() on a koffi worker thread, so the event loop runs during a large batch. */
  async nextAsync(): Promise<number> {
    for (;;) {
      if (this.done) return (this.count = 0);
      this.enter();
      let r: number;
      try {
        r = await bpfRawAsync(this.cmd, this.prepare());
      } finally {
        this.busy = false;
      }
      const n = this.settle(r);
      if (n >= 0) return n;
    }
  }

  /** Larger buffers for the next call (after BatchTooSmallError); the position is kept. */
  grow(batchSize = this.batchSize * 2): void {
    if (this.busy) throw new Error("MapBatchReader.grow during a call");
    this.allocate(batchSize);
  }

  /**
   * Continues from a token instead of the start: for hash maps the token is
   * a bucket index, so two readers can share a map's buckets between them.
   */
  startFrom(token: number): void {
    this.token.fill(0);
    this.token.writeUInt32LE(token >>> 0, 0);
    this.started = true;
    this.done = false;
  }

  /** The token the next call continues from (for hash maps: the next bucket). */
  get position(): number {
    return this.token.readUInt32LE(0);
  }

  /**
   * Reads another map with the same key and value sizes from its start,
   * reusing this reader's buffers (many small maps, one set of allocations).
   */
  retarget(fd: number): void {
    if (this.busy) throw new Error("MapBatchReader.retarget during a call");
    this.mapFd = fd;
    this.attr.setU32(BATCH.mapFd, fd);
    this.reset();
  }

  /** Back to the first element. */
  reset(): void {
    this.started = false;
    this.done = false;
    this.count = 0;
    this.limit = undefined;
  }

  /** Views of element i of the last batch (these allocate; index keys/values directly in hot loops). */
  keyAt(i: number): Buffer {
    return this.keys.subarray(i * this.keySize, (i + 1) * this.keySize);
  }

  valueAt(i: number): Buffer {
    return this.values.subarray(i * this.valueSize, (i + 1) * this.valueSize);
  }

  private allocate(batchSize: number): void {
    this.batchSize = batchSize;
    this.keys = stableBuffer(batchSize * this.keySize);
    this.values = stableBuffer(batchSize * this.valueSize);
    this.attr.setU64(BATCH.keys, addressOf(this.keys));
    this.attr.setU64(BATCH.values, addressOf(this.values));
  }

  private enter(): void {
    if (this.busy) throw new Error("MapBatchReader: a call is already in progress");
    this.busy = true;
  }

  /** Elements the next call asks for. */
  private get callSize(): number {
    const limit = this.limit;
    return limit !== undefined && limit >= 1 && limit < this.batchSize ? Math.floor(limit) : this.batchSize;
  }

  private prepare(): BpfAttr {
    // in_batch and out_batch share one buffer: the kernel reads the token before writing the next one.
    this.attr.setU64(BATCH.inBatch, this.started ? this.tokenAddress : 0);
    this.attr.setU32(BATCH.count, this.callSize);
    return this.attr;
  }

  /** The element count, or -1 after growing for a retry. */
  private settle(r: number): number {
    const n = this.attr.u32(BATCH.count);
    if (r >= 0 || -r === ENOENT) {
      this.started = true;
      this.done = r < 0;
      return (this.count = n);
    }
    this.count = 0;
    const asked = this.callSize;
    const err = batchError(this.cmd, -r, n, asked, this.fd);
    if (err instanceof BatchTooSmallError && asked < this.batchSize) {
      // A bucket larger than the limit: the limit goes, the buffers hold the bucket or grow as before.
      this.limit = undefined;
      return -1;
    }
    if (err instanceof BatchTooSmallError && this.autoGrow) {
      this.grow();
      return -1;
    }
    throw err;
  }
}
