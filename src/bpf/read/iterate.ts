/**
 * Reading a map one element at a time: BPF_MAP_GET_NEXT_KEY, then
 * BPF_MAP_LOOKUP_ELEM. For maps the kernel has no batch operations for
 * (LPM_TRIE before they were added); about 6x slower than batches.
 */
import { mapGetNextKey, mapLookupElem, stableBuffer } from "../../kernel/index.js";
import { MapContentsError } from "../errors.js";
import type { ElementSink } from "../spool.js";
import type { LiveMap } from "../map.js";

/** Elements handed to the sink at a time. */
const CHUNK = 1024;

/**
 * Every element in GET_NEXT_KEY order. A key with no value (an empty
 * ARRAY_OF_MAPS slot, or an element deleted meanwhile) is skipped. Returns
 * the element count.
 */
export function readByIteration(map: LiveMap, sink: ElementSink): number {
  const { fd, keySize } = map;
  const stride = map.valueStride;
  const keys = stableBuffer(CHUNK * keySize);
  const values = stableBuffer(CHUNK * stride);
  const prev = stableBuffer(keySize);
  // GET_NEXT_KEY restarts from the first key when the given key is gone, so a
  // map changing under us could loop forever: more steps than the map can hold
  // elements means it is changing (nothing may write it during a dump).
  const maxSteps = 2 * map.maxEntries + CHUNK;
  let havePrev = false;
  let n = 0;
  let total = 0;
  for (let steps = 0; ; steps++) {
    if (steps > maxSteps) {
      throw new MapContentsError(`BPF map ${map.id} (${map.typeName}) keeps changing while it is read; nothing may write it during a dump`);
    }
    const key = keys.subarray(n * keySize, (n + 1) * keySize);
    if (!mapGetNextKey(fd, havePrev ? prev : null, key)) break;
    prev.set(key);
    havePrev = true;
    if (!mapLookupElem(fd, key, values.subarray(n * stride, (n + 1) * stride))) continue;
    if (++n === CHUNK) {
      sink.add(keys, values, n);
      total += n;
      n = 0;
    }
  }
  if (n > 0) sink.add(keys.subarray(0, n * keySize), values.subarray(0, n * stride), n);
  return total + n;
}
