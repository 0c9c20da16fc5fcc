/**
 * Maps whose contents cannot come back (sockets, network devices, CPUs
 * bound to kernel threads, stack traces) lose nothing when they hold
 * nothing: such a map, found empty, is dumped as an empty map, which restore
 * re-creates exactly, and needs no --skip-unsupported. Only types where
 * "empty" can be told for sure are asked: hash-like ones by GET_NEXT_KEY,
 * array-like ones by a lookup of every index (each type answers lookups of
 * an empty slot with ENOENT, and a filled one otherwise).
 */
import { MAP_TYPE, mapGetNextKey, stableBuffer, SyscallError } from "../kernel/index.js";
import { filledSlots } from "./read/filled-slots.js";
import type { LiveMap } from "./map.js";

const HASH_LIKE = new Set<number>([MAP_TYPE.SOCKHASH, MAP_TYPE.DEVMAP_HASH, MAP_TYPE.STACK_TRACE]);
const ARRAY_LIKE = new Set<number>([MAP_TYPE.DEVMAP, MAP_TYPE.CPUMAP]);
/** Socket arrays answer a lookup with the socket's cookie, which needs 8-byte values (4-byte ones answer ENOSPC, empty or not). */
const SOCKET_ARRAYS = new Set<number>([MAP_TYPE.SOCKMAP, MAP_TYPE.REUSEPORT_SOCKARRAY]);
/** Beyond this many slots a lookup of each costs more than a dump should. */
const MAX_SLOTS_ASKED = 1 << 16;

/** True when the map holds no element for sure; false when it does, or when that cannot be told. */
export function isSurelyEmpty(map: LiveMap): boolean {
  const type = map.type;
  const arrayLike = ARRAY_LIKE.has(type) || (SOCKET_ARRAYS.has(type) && map.valueSize === 8);
  if (!HASH_LIKE.has(type) && !arrayLike) return false;
  const reader = map.forReading();
  try {
    if (HASH_LIKE.has(type)) return !mapGetNextKey(reader.fd, null, stableBuffer(Math.max(1, map.keySize)));
    if (map.maxEntries > MAX_SLOTS_ASKED) return false;
    return filledSlots(reader.fd, map.maxEntries, map.valueSize).next().done === true;
  } catch (e) {
    // A type that answers otherwise (EOPNOTSUPP...) cannot be told empty.
    if (e instanceof SyscallError) return false;
    throw e;
  } finally {
    if (reader !== map) reader.close();
  }
}
