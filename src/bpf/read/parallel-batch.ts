/**
 * Reading a large hash map on several CPUs. A hash map's batch token is a
 * bucket index, so readers on koffi's worker threads can each walk a range of
 * buckets ([0, n/k), [n/k, 2n/k), ...); the kernel work, which is nearly all
 * of a large dump, is then shared. Each range goes to scratch files as it is
 * read; they are joined in bucket order, so the output is exactly what one
 * reader would produce. How many ranges: RANGES_PER_THREAD below.
 */
import { availableParallelism } from "node:os";
import { MAP_TYPE, MapBatchReader } from "../../kernel/index.js";
import { ElementSpool, type SpooledContents } from "../spool.js";
import type { LiveMap } from "../map.js";
import type { FileRange } from "../../contract/dump-context.js";
import { batchSizeFor } from "./batch.js";
import { evenRanges, largeMapThreads } from "../kernel-threads.js";

const HASHES = new Set<number>([MAP_TYPE.HASH, MAP_TYPE.LRU_HASH, MAP_TYPE.PERCPU_HASH, MAP_TYPE.LRU_PERCPU_HASH]);
/** Below this size a second thread costs more than it saves. */
const MIN_ENTRIES = 1 << 16;

export function canReadInParallel(map: LiveMap): boolean {
  return HASHES.has(map.type) && map.maxEntries >= MIN_ENTRIES && availableParallelism() >= 2;
}

/** The kernel sizes a hash table to the next power of two of max_entries. */
function bucketCount(maxEntries: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, maxEntries)));
}

interface RangeRead {
  spool: ElementSpool;
  /** Where the last batch starts in the spool (elements), and its size. */
  lastAt: number;
  lastCount: number;
}

/** The fewest elements a call near a range's end asks for. */
const MIN_CALL = 256;
/** Elements per bucket assumed before a range has read any. */
const FIRST_LOAD = 0.5;

/**
 * How many elements to ask for next in buckets [from, until), at `position`
 * with `read` elements so far: a call stops at a count, not at a bucket, so
 * what it reads past `until` is work the next range does again. About nine
 * tenths of what the buckets left hold at the load seen so far: a range
 * needs a few more calls near its end and reads at most MIN_CALL elements
 * past it (a whole batch, up to 65,536, before).
 */
export function callLimit(from: number, until: number, position: number, read: number): number {
  const left = until - position;
  const load = position > from ? read / (position - from) : FIRST_LOAD;
  return Math.max(MIN_CALL, Math.floor(left * load * 0.9));
}

/**
 * Reads buckets [from, until) (and a little past `until`: callLimit) into a
 * spool: each batch goes from the reader's buffer, reused call after call,
 * to the page cache, never into fresh memory.
 */
async function readRange(map: LiveMap, from: number, until: number, spool: ElementSpool, tick?: (n: number) => void, stopped?: () => boolean): Promise<RangeRead> {
  const reader = new MapBatchReader(map.fd, {
    keySize: map.keySize,
    valueSize: map.valueStride,
    batchSize: batchSizeFor(map.keySize, map.valueStride, map.maxEntries),
    autoGrow: true,
  });
  if (from > 0) reader.startFrom(from);
  const half: RangeRead = { spool, lastAt: 0, lastCount: 0 };
  // Another range's failure ends the read: no call more than the one under way.
  while (!reader.done && !stopped?.()) {
    if (until !== Infinity) reader.limit = callLimit(from, until, reader.position, spool.count);
    const n = await reader.nextAsync();
    if (n > 0) {
      half.lastAt = spool.count;
      half.lastCount = n;
      spool.add(reader.keys.subarray(0, n * map.keySize), reader.values.subarray(0, n * map.valueStride), n);
      tick?.(n);
    }
    if (reader.position >= until) break;
  }
  return half;
}

/** Drops the elements of the first half's last batch that the second half also read (it read past the split). */
function trimOverlap(first: RangeRead, second: RangeRead, keySize: number, stride: number): void {
  if (first.lastCount === 0 || second.spool.count === 0 || keySize === 0) return;
  const head = Buffer.allocUnsafe(keySize);
  second.spool.keys.readAt(head, 0);
  const last = Buffer.allocUnsafe(first.lastCount * keySize);
  first.spool.keys.readAt(last, first.lastAt * keySize);
  // A native search for the key's bytes, kept only where a key starts (an element-by-element compare of 65,536 keys takes ~20 ms).
  for (let at = last.indexOf(head); at >= 0; at = last.indexOf(head, at + 1)) {
    if (at % keySize === 0) {
      first.spool.truncate(first.lastAt + at / keySize, keySize, stride);
      return;
    }
  }
}

/** Spools read back as one: all keys of both, then all values of both. */
class JoinedSpools implements SpooledContents {
  constructor(private readonly parts: ElementSpool[]) {}
  get count(): number {
    return this.parts.reduce((n, p) => n + p.count, 0);
  }
  get keysBytes(): number {
    return this.parts.reduce((n, p) => n + p.keysBytes, 0);
  }
  get valuesBytes(): number {
    return this.parts.reduce((n, p) => n + p.valuesBytes, 0);
  }
  *pieces(): Generator<Uint8Array> {
    for (const p of this.parts) yield* p.keys.pieces();
    for (const p of this.parts) yield* p.values.pieces();
  }
  ranges(): FileRange[] {
    return [...this.parts.map((p) => p.keys.range()), ...this.parts.map((p) => p.values.range())];
  }
  close(): void {
    for (const p of this.parts) p.close();
  }
}

/**
 * Bucket ranges per thread of kernel-threads.ts, all read at once. The calls
 * run on libuv's pool of four threads; a range waits for the main thread
 * between its calls (its batch written to its spool), and with more ranges
 * than pool threads another range's call is already queued for that thread
 * meanwhile. callLimit keeps a range from reading far past its end however
 * short it is. Timed in process, 1M elements: 8 ranges at once 137 ms, 4
 * ranges 152 ms, the same 8 ranges taken 4 at a time 159 ms, 16 at once 139
 * ms; as commands in paired rounds against the C program, 8 ranges 0.83× idle
 * and 0.99× busy, 4 ranges 0.87× and 1.06×.
 */
const RANGES_PER_THREAD = 2;

export interface ParallelReadOptions {
  spoolDir?: string;
  /** Hears of every batch (progress). */
  tick?: (n: number) => void;
  /** Bucket ranges read at once: RANGES_PER_THREAD per thread of kernel-threads.ts unless given. */
  ranges?: number;
}

/** Every element, in bucket order, read in bucket ranges at once into scratch files, joined in bucket order. */
export async function readByBatchParallel(map: LiveMap, opts: ParallelReadOptions = {}): Promise<SpooledContents> {
  const buckets = bucketCount(map.maxEntries);
  const n = Math.max(1, Math.min(opts.ranges ?? largeMapThreads() * RANGES_PER_THREAD, buckets));
  const spools: ElementSpool[] = [];
  try {
    for (let i = 0; i < n; i++) spools.push(new ElementSpool(opts.spoolDir));
    const bounds = evenRanges(buckets, n);
    let failed = false;
    const read = async (i: number): Promise<RangeRead> => {
      try {
        // The last range reads on to the map's end, wherever its batches stop.
        return await readRange(map, bounds[i]![0], i + 1 < n ? bounds[i]![1] : Infinity, spools[i]!, opts.tick, () => failed);
      } catch (e) {
        failed = true;
        throw e;
      }
    };
    // Every range has stopped before any spool is closed, failure or not.
    const done = await Promise.allSettled(spools.map((_, i) => read(i)));
    const ranges: RangeRead[] = [];
    for (const r of done) {
      if (r.status === "rejected") throw r.reason;
      ranges.push(r.value);
    }
    // A batch does not stop at a range's end: each range's last batch is cut where the next range starts.
    for (let i = 0; i + 1 < n; i++) trimOverlap(ranges[i]!, ranges[i + 1]!, map.keySize, map.valueStride);
    return new JoinedSpools(spools);
  } catch (e) {
    for (const s of spools) s.close();
    throw e;
  }
}
