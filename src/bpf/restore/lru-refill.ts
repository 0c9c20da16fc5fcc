/**
 * LRU maps refuse to be filled to the brim from one CPU. Each CPU takes free
 * elements from the map's common free list in batches (target_free, at most
 * 128); when fewer than a batch are left, the kernel evicts the oldest
 * elements to make up the batch, although free ones remain. So loading C of
 * max_entries M elements evicts up to 128 of the first ones loaded when C is
 * within a batch of M (measured on 6.18: 1000 of 1000 → 976 kept). With
 * BPF_F_NO_COMMON_LRU each CPU has its own M / CPUs elements, and one CPU
 * can hold no more than that: such a map is loaded in shares, one per CPU
 * (lru-cpu-shares.ts), and only one fuller than the CPUs restore may run on
 * can hold loses elements.
 *
 * After loading a map that may have been hit, restore counts its elements
 * and puts back the evicted ones: the batch the eviction freed is still on
 * this CPU, and it has room for them (C ≤ M). If elements are still missing
 * after a few passes (a per-CPU LRU fuller than those CPUs' shares), restore
 * fails with MapRestoreNotSupportedError — or, with --skip-unsupported,
 * keeps what the kernel kept and says how much it lost.
 */
import { BPF_ANY, mapLookupElem, mapUpdateElem, possibleCpus, stableBuffer } from "../../kernel/index.js";
import { LiveMap } from "../map.js";
import { describeMap } from "./describe.js";
import { ChunkSource, type LoadRequest } from "./load-contents.js";
import { LRU_TYPES, perCpuListLength } from "./lru-cpu-shares.js";

/** The kernel's LOCAL_FREE_TARGET: the largest batch a CPU takes from the free list. */
const LOCAL_FREE_TARGET = 128;
const PASSES = 3;

/** Could loading `count` elements into this fresh map have evicted some? */
export function mayEvict(req: LoadRequest): boolean {
  const { spec, data } = req;
  if (!LRU_TYPES.has(spec.mapType)) return false;
  const perList = perCpuListLength(spec) ?? spec.maxEntries;
  return data.count + LOCAL_FREE_TARGET * possibleCpus() > perList;
}

/** Puts back elements the kernel evicted while `req` was loaded; returns how many are still missing. */
export function refillEvicted(req: LoadRequest, log: (m: string) => void): number {
  const live = LiveMap.fromFd(req.fd);
  let missing = req.data.count - countElements(live);
  for (let pass = 0; pass < PASSES && missing > 0; pass++) {
    log(`${describeMap(req.spec)}: the kernel evicted ${missing} elements while they were loaded; putting them back`);
    putBackMissing(req);
    missing = req.data.count - countElements(live);
  }
  return missing;
}

function countElements(live: LiveMap): number {
  let n = 0;
  live.readContents({
    add(_keys, _values, count) {
      n += count;
    },
  });
  return n;
}

function putBackMissing(req: LoadRequest): void {
  const { spec, layout, fd, data } = req;
  const source = new ChunkSource(req);
  const found = stableBuffer(layout.kernelStride);
  for (let start = 0; start < data.count; start += source.per) {
    const n = Math.min(source.per, data.count - start);
    const { keys, values } = source.read(start, n);
    for (let i = 0; i < n; i++) {
      const key = keys.subarray(i * spec.keySize, (i + 1) * spec.keySize);
      if (!mapLookupElem(fd, key, found)) mapUpdateElem(fd, key, values.subarray(i * layout.kernelStride, (i + 1) * layout.kernelStride), BPF_ANY);
    }
  }
}
