/**
 * One element of a map as `bpftool map dump -j` prints it: "key" and
 * "value" as lists of "0x%02x" bytes (per-CPU maps: "values", a list of
 * {"cpu", "value"}), and with BTF a "formatted" object: "key" (when the map
 * has a key type) and "value" / "values" typed by BtfDumper. Global-data
 * maps (.data, .bss, .rodata) have no key type, so only their value is
 * formatted, as a DATASEC.
 */
import type { BtfDumper } from "./format.js";
import { JsonObject, type Json } from "./json.js";

/** PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE: one value per possible CPU. */
const PER_CPU_TYPES = new Set([5, 6, 10, 21]);

export function isPerCpuMapType(mapType: number): boolean {
  return PER_CPU_TYPES.has(mapType);
}

/** What formatting an element needs to know of its map. */
export interface MapShape {
  mapType: number;
  keySize: number;
  valueSize: number;
  /** Per-CPU maps: how many CPUs' values each element holds. */
  cpus: number;
  /** BTF type ids (0: none), and the dumper of the map's BTF when it has one. */
  keyTypeId: number;
  valueTypeId: number;
  btf?: BtfDumper;
}

const HEX = Array.from({ length: 256 }, (_, i) => `0x${i.toString(16).padStart(2, "0")}`);

function hexList(bytes: Uint8Array, off: number, n: number): Json[] {
  const out: Json[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = HEX[bytes[off + i]];
  return out;
}

/**
 * The element whose key is `key[keyOff..]` and value `value[valueOff..]`
 * (per-CPU: `cpus` slots of round_up(value_size, 8) bytes).
 */
export function bpftoolEntry(map: MapShape, key: Uint8Array, keyOff: number, value: Uint8Array, valueOff: number): JsonObject {
  const out = new JsonObject([["key", hexList(key, keyOff, map.keySize)]]);
  const perCpu = isPerCpuMapType(map.mapType);
  const slot = Math.ceil(map.valueSize / 8) * 8;
  if (perCpu) {
    const values: Json[] = [];
    for (let c = 0; c < map.cpus; c++) values.push(new JsonObject([["cpu", c], ["value", hexList(value, valueOff + c * slot, map.valueSize)]]));
    out.add("values", values);
  } else {
    out.add("value", hexList(value, valueOff, map.valueSize));
  }
  if (map.btf && map.valueTypeId) {
    const f = new JsonObject();
    if (map.keyTypeId) f.add("key", map.btf.value(map.keyTypeId, key, keyOff));
    if (perCpu) {
      const values: Json[] = [];
      for (let c = 0; c < map.cpus; c++) values.push(new JsonObject([["cpu", c], ["value", map.btf.value(map.valueTypeId, value, valueOff + c * slot)]]));
      f.add("values", values);
    } else {
      f.add("value", map.btf.value(map.valueTypeId, value, valueOff));
    }
    out.add("formatted", f);
  }
  return out;
}
