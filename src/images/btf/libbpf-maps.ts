/**
 * The maps a libbpf object defines in its ".maps" section, as its BTF
 * describes them. libbpf knows a map by the full name of its variable
 * (`struct {...} connection_tracking_table SEC(".maps")`) and pins it under
 * that name, while the kernel keeps only the first 15 bytes; the object's BTF,
 * which the map carries (btf_id), still has the whole name.
 */
import type { Btf } from "./btf.js";

/** A map definition of ".maps": its variable's name and what its __uint/__type fields say. */
export interface BtfDefinedMap {
  name: string;
  mapType?: number;
  maxEntries?: number;
  mapFlags?: number;
  /** __uint(key_size, N) / __uint(value_size, N): sizes given without types. */
  keySize?: number;
  valueSize?: number;
  /** __array(values, ...): a program table's or map of maps' initial values. */
  hasValues?: boolean;
  /** The id of the key / value type (what libbpf gives BPF_MAP_CREATE as btf_key/value_type_id). */
  keyTypeId?: number;
  valueTypeId?: number;
}

/** The longest map name the kernel keeps (BPF_OBJ_NAME_LEN - 1). */
export const KERNEL_MAP_NAME_MAX = 15;

/** Every map defined in the ".maps" section of `btf` (none when there is no such section). */
export function btfDefinedMaps(btf: Btf): BtfDefinedMap[] {
  const out: BtfDefinedMap[] = [];
  for (const sec of btf.named(".maps", "DATASEC")) {
    for (const v of sec.members) {
      const def = btf.resolve(btf.type(v.type)?.type ?? 0);
      const m: BtfDefinedMap = { name: v.name };
      if (def && (def.kind === "STRUCT" || def.kind === "UNION")) {
        for (const f of def.members) {
          if (f.name === "values") m.hasValues = true;
          const ptr = btf.type(f.type);
          if (ptr?.kind !== "PTR") continue;
          // __uint(name, N) is `int (*name)[N]`; __type(name, T) is `T *name`.
          const n = btf.type(ptr.type)?.array?.nelems;
          if (f.name === "type") m.mapType = n;
          else if (f.name === "max_entries") m.maxEntries = n;
          else if (f.name === "map_flags") m.mapFlags = n;
          else if (f.name === "key_size") m.keySize = n;
          else if (f.name === "value_size") m.valueSize = n;
          else if (f.name === "key") m.keyTypeId = ptr.type;
          else if (f.name === "value") m.valueTypeId = ptr.type;
        }
      }
      out.push(m);
    }
  }
  return out;
}

export interface KernelMapFacts {
  /** The map's name as the kernel has it (at most 15 bytes). */
  name: string;
  mapType: number;
  maxEntries: number;
  keyTypeId: number;
  valueTypeId: number;
}

/**
 * The name libbpf knows a map by, found in the ".maps" section of its BTF:
 * the variable whose name is the kernel's name, or, when the kernel's name
 * has the full 15 bytes, begins with it; several such variables are told
 * apart by type, max_entries and key/value types. Undefined when the BTF has
 * no matching definition or cannot decide.
 */
export function libbpfMapName(btf: Btf, map: KernelMapFacts): string | undefined {
  const defs = btfDefinedMaps(btf);
  if (defs.some((d) => d.name === map.name)) return map.name;
  if (map.name.length < KERNEL_MAP_NAME_MAX) return undefined;
  const fits = (d: BtfDefinedMap) =>
    d.name.startsWith(map.name) &&
    (d.mapType === undefined || d.mapType === map.mapType) &&
    (d.maxEntries === undefined || map.maxEntries === 0 || d.maxEntries === map.maxEntries) &&
    (d.keyTypeId === undefined || map.keyTypeId === 0 || d.keyTypeId === map.keyTypeId) &&
    (d.valueTypeId === undefined || map.valueTypeId === 0 || d.valueTypeId === map.valueTypeId);
  const found = defs.filter(fits);
  return found.length === 1 ? found[0].name : undefined;
}

/**
 * The file name libbpf pins a map under (LIBBPF_PIN_BY_NAME, bpftool's
 * pinmaps): its name with every "." replaced by "_", as bpffs refuses dots
 * in names (".data" maps are named "<object>.data").
 */
export function libbpfPinName(name: string): string {
  return name.replaceAll(".", "_");
}
