/**
 * Reading a QUEUE or STACK map. They have no keys and no way to look past
 * the head, so the only way to see every element is to pop them all
 * (BPF_MAP_LOOKUP_AND_DELETE_ELEM). Every element is popped into a scratch
 * file, then pushed back in its original order, so the map is left exactly
 * as it was; the elements are recorded oldest first, the order in which
 * restore pushes them.
 *
 *   QUEUE: pops come oldest first; push them back in pop order.
 *   STACK: pops come newest first; push them back in reverse pop order.
 *
 * Consistent only if no BPF program pushes or pops meanwhile (the dumped
 * process is frozen, but programs run on kernel events). A frozen map cannot
 * be popped at all: see whyUnreadable in ../map.ts.
 */
import { BPF_ANY, mapLookupAndDeleteElem, mapUpdateElem, stableBuffer } from "../../kernel/index.js";
import { MapContentsError } from "../errors.js";
import { SpoolFile, type ElementSink } from "../spool.js";
import type { LiveMap } from "../map.js";

const CHUNK_BYTES = 1 << 20;
const NO_KEYS = new Uint8Array(0);

export function readByPopping(map: LiveMap, sink: ElementSink, popsOldestFirst: boolean, spoolDir?: string): number {
  // A frozen map refuses every pop (EPERM); LiveMap.whyUnreadable only lets an empty one through.
  if (map.isFrozen()) return 0;
  const per = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(1, map.valueSize)));
  const spool = new SpoolFile(spoolDir);
  try {
    const count = popAll(map, spool, per, popsOldestFirst);
    pushBack(map, spool, per, popsOldestFirst, sink);
    return count;
  } finally {
    spool.close();
  }
}

/** Pops every element into `spool` (pop order); on failure, puts back what it took and rethrows. */
function popAll(map: LiveMap, spool: SpoolFile, per: number, popsOldestFirst: boolean): number {
  const vs = map.valueSize;
  const chunk = stableBuffer(per * vs);
  // More pops than the map can hold means a program keeps pushing.
  const limit = 2 * map.maxEntries + 1;
  let n = 0;
  let total = 0;
  try {
    while (mapLookupAndDeleteElem(map.fd, null, chunk.subarray(n * vs, (n + 1) * vs))) {
      total++;
      if (++n === per) {
        spool.append(chunk);
        n = 0;
      }
      if (total > limit) throw new MapContentsError(`BPF map ${map.id} (${map.typeName}) keeps growing while it is read; nothing may push to it during a dump`);
    }
    if (n > 0) spool.append(chunk.subarray(0, n * vs));
    return total;
  } catch (e) {
    if (total === 0) throw e;
    // Elements taken so far: those spooled (whole ones), then chunk[0, n).
    const inMemory = chunk.subarray(0, n * vs);
    let unrestored = "";
    try {
      if (popsOldestFirst) restoreQueue(map, spool, per, inMemory);
      else restoreStack(map, spool, per, inMemory);
    } catch (again) {
      unrestored = `; putting the popped elements back failed too (${(again as Error).message}): the map has lost elements`;
    }
    if (!unrestored) throw e;
    throw new MapContentsError(`BPF map ${map.id} (${map.typeName}): reading it failed (${(e as Error).message})${unrestored}`);
  }
}

/** The spooled elements in push order (oldest first), a chunk at a time. */
function forEachInPushOrder(spool: SpoolFile, vs: number, per: number, popsOldestFirst: boolean, fn: (values: Buffer, count: number) => void): void {
  const total = Math.floor(spool.size / vs);
  const buf = stableBuffer(per * vs);
  if (popsOldestFirst) {
    for (let start = 0; start < total; start += per) {
      const k = Math.min(per, total - start);
      spool.readAt(buf.subarray(0, k * vs), start * vs);
      fn(buf, k);
    }
    return;
  }
  // Pop order was newest first: walk the spool from its end, each chunk reversed.
  const tmp = stableBuffer(per * vs);
  for (let end = total; end > 0; end -= per) {
    const start = Math.max(0, end - per);
    const k = end - start;
    spool.readAt(tmp.subarray(0, k * vs), start * vs);
    for (let i = 0; i < k; i++) buf.set(tmp.subarray((k - 1 - i) * vs, (k - i) * vs), i * vs);
    fn(buf, k);
  }
}

function pushAll(map: LiveMap, values: Buffer, count: number, before: number, total: number): void {
  const vs = map.valueSize;
  for (let i = 0; i < count; i++) {
    try {
      mapUpdateElem(map.fd, null, values.subarray(i * vs, (i + 1) * vs), BPF_ANY);
    } catch (e) {
      const lost = total - before - i;
      throw new MapContentsError(
        `BPF map ${map.id} (${map.typeName}): pushing element ${before + i + 1} of ${total} back failed (${(e as Error).message}); the map has lost its last ${lost} elements`,
      );
    }
  }
}

/** Pushes everything back; records it (push order) in `sink`. A failing sink does not stop the push-back. */
function pushBack(map: LiveMap, spool: SpoolFile, per: number, popsOldestFirst: boolean, sink: ElementSink): void {
  const total = Math.floor(spool.size / map.valueSize);
  let done = 0;
  let sinkError: unknown;
  forEachInPushOrder(spool, map.valueSize, per, popsOldestFirst, (values, k) => {
    pushAll(map, values, k, done, total);
    done += k;
    if (sinkError === undefined) {
      try {
        sink.add(NO_KEYS, values.subarray(0, k * map.valueSize), k);
      } catch (e) {
        sinkError = e;
      }
    }
  });
  if (sinkError !== undefined) throw sinkError;
}

/** QUEUE after a failed pop: the rest is still queued ahead of where ours must go, so take it too, then push all back. */
function restoreQueue(map: LiveMap, spool: SpoolFile, per: number, inMemory: Uint8Array): void {
  const vs = map.valueSize;
  const rest: Buffer[] = [];
  for (;;) {
    const v = stableBuffer(vs);
    if (!mapLookupAndDeleteElem(map.fd, null, v)) break;
    rest.push(v);
  }
  const total = Math.floor(spool.size / vs) + inMemory.length / vs + rest.length;
  let done = 0;
  forEachInPushOrder(spool, vs, per, true, (values, k) => {
    pushAll(map, values, k, done, total);
    done += k;
  });
  const mem = Buffer.from(inMemory.buffer, inMemory.byteOffset, inMemory.byteLength);
  pushAll(map, mem, inMemory.length / vs, done, total);
  done += inMemory.length / vs;
  for (const v of rest) pushAll(map, v, 1, done++, total);
}

/** STACK after a failed pop: the newest elements are ours; push the in-memory ones back, then the spooled ones. */
function restoreStack(map: LiveMap, spool: SpoolFile, per: number, inMemory: Uint8Array): void {
  const vs = map.valueSize;
  const n = inMemory.length / vs;
  const total = n + Math.floor(spool.size / vs);
  // inMemory holds the oldest of the popped ones (popped last): push them first, newest of them last.
  const mem = Buffer.from(inMemory.buffer, inMemory.byteOffset, inMemory.byteLength);
  for (let i = n - 1; i >= 0; i--) pushAll(map, mem.subarray(i * vs, (i + 1) * vs), 1, n - 1 - i, total);
  let done = n;
  forEachInPushOrder(spool, vs, per, false, (values, k) => {
    pushAll(map, values, k, done, total);
    done += k;
  });
}
