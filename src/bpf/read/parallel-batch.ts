/**
 * Reading a large hash map on two CPUs. A hash map's batch token is a bucket
 * index, so one reader can walk buckets [0, n/2) while another walks
 * [n/2, n) on a second koffi worker thread; the kernel work, which is nearly
 * all of a large dump, is then shared. The two halves are joined in bucket
 * order, so the output is exactly what one reader would produce.
 */
import { availableParallelism } from "node:os";
import { MAP_TYPE, MapBatchReader } from "../../kernel/index.js";
import type { ElementSink } from "../spool.js";
import type { LiveMap } from "../map.js";
import { batchSizeFor } from "./batch.js";

const HASHES = new Set<number>([MAP_TYPE.HASH, MAP_TYPE.LRU_HASH, MAP_TYPE.PERCPU_HASH, MAP_TYPE.LRU_PERCPU_HASH]);
/** Below this size a second thread costs more than it saves. */
const MIN_ENTRIES = 1 << 16;
/** Both halves are held in memory until they are joined. */
const MAX_BYTES = 256 << 20;

interface Chunk {
  keys: Uint8Array;
  values: Uint8Array;
  count: number;
}

export function canReadInParallel(map: LiveMap): boolean {
  return HASHES.has(map.type) && map.maxEntries >= MIN_ENTRIES &&
    map.maxEntries * (map.keySize + map.valueStride) <= MAX_BYTES && availableParallelism() >= 2;
}

/** The kernel sizes a hash table to the next power of two of max_entries. */
function bucketCount(maxEntries: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, maxEntries)));
}

async function readRange(map: LiveMap, from: number, until: number): Promise<Chunk[]> {
  const reader = new MapBatchReader(map.fd, {
    keySize: map.keySize,
    valueSize: map.valueStride,
    batchSize: batchSizeFor(map.keySize, map.valueStride, map.maxEntries),
    autoGrow: true,
  });
  if (from > 0) reader.startFrom(from);
  const chunks: Chunk[] = [];
  while (!reader.done) {
    const n = await reader.nextAsync();
    if (n > 0) {
      chunks.push({
        keys: Buffer.from(reader.keys.subarray(0, n * map.keySize)),
        values: Buffer.from(reader.values.subarray(0, n * map.valueStride)),
        count: n,
      });
    }
    if (reader.position >= until) break;
  }
  return chunks;
}

/** Drops the elements of the first half's last batch that the second half also read. */
function trimOverlap(first: Chunk[], second: Chunk[], keySize: number, stride: number): void {
  const last = first.at(-1);
  const head = second[0];
  if (!last || !head || keySize === 0) return;
  const firstKey = head.keys.subarray(0, keySize);
  for (let i = 0; i < last.count; i++) {
    if (Buffer.compare(last.keys.subarray(i * keySize, (i + 1) * keySize), firstKey) === 0) {
      last.keys = last.keys.subarray(0, i * keySize);
      last.values = last.values.subarray(0, i * stride);
      last.count = i;
      return;
    }
  }
}

/** Every element, in bucket order, read by two threads; the count. */
export async function readByBatchParallel(map: LiveMap, sink: ElementSink): Promise<number> {
  const split = bucketCount(map.maxEntries) / 2;
  const [first, second] = await Promise.all([readRange(map, 0, split), readRange(map, split, Infinity)]);
  trimOverlap(first, second, map.keySize, map.valueStride);
  let total = 0;
  for (const c of [...first, ...second]) {
    if (c.count === 0) continue;
    sink.add(c.keys, c.values, c.count);
    total += c.count;
  }
  return total;
}
