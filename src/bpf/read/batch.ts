/**
 * Reading a map with BPF_MAP_LOOKUP_BATCH: one system call per few thousand
 * elements, the fast path (a 1M-entry hash in about a quarter of a second).
 */
import { MapBatchReader, isNoBatchOps } from "../../kernel/index.js";
import type { ElementSink } from "../spool.js";
import type { LiveMap } from "../map.js";

/** About this many bytes of keys and values per call: few calls, small buffers. */
const BATCH_BYTES = 4 << 20;
const MIN_BATCH = 16;
const MAX_BATCH = 1 << 16;


export function batchSizeFor(keySize: number, valueStride: number, maxEntries: number): number {
  const bySize = Math.floor(BATCH_BYTES / Math.max(1, keySize + valueStride));
  const n = Math.min(MAX_BATCH, Math.max(MIN_BATCH, bySize));
  // A batch as large as the map never meets a hash bucket it cannot hold (no ENOSPC).
  return Math.max(1, Math.min(n, maxEntries));
}

/**
 * Readers by key size, value stride and batch size: a dump of many similar
 * maps allocates once. Kept for the length of one dump: the dump session
 * calls releaseBatchReaders() when it ends (a library user dumping in a
 * long-lived process does not keep their buffers).
 */
const readers = new Map<string, MapBatchReader>();

/** Drops the cached readers and their buffers (at the end of a dump). */
export function releaseBatchReaders(): void {
  readers.clear();
}

function readerFor(map: LiveMap): MapBatchReader {
  const keySize = map.keySize;
  const stride = map.valueStride;
  const batchSize = batchSizeFor(keySize, stride, map.maxEntries);
  const key = `${keySize}/${stride}/${batchSize}`;
  let reader = readers.get(key);
  if (reader) {
    reader.retarget(map.fd);
    return reader;
  }
  reader = new MapBatchReader(map.fd, { keySize, valueSize: stride, batchSize, autoGrow: true });
  // A small cache: shapes are few, and a grown reader keeps its larger buffers.
  if (readers.size < 16 && batchSize * (keySize + stride) <= 1 << 20) readers.set(key, reader);
  return reader;
}

/**
 * Every element, in the kernel's order (bucket order for hashes, index order
 * for arrays). Returns the element count, or undefined when the kernel has
 * no batch operations for this map (nothing has been read then).
 */
export function readByBatch(map: LiveMap, sink: ElementSink): number | undefined {
  const keySize = map.keySize;
  const stride = map.valueStride;
  const reader = readerFor(map);
  let total = 0;
  let first = true;
  while (!reader.done) {
    let n: number;
    try {
      n = reader.next();
    } catch (e) {
      if (first && isNoBatchOps(e)) return undefined;
      throw e;
    }
    first = false;
    if (n > 0) sink.add(reader.keys.subarray(0, n * keySize), reader.values.subarray(0, n * stride), n);
    total += n;
  }
  return total;
}
