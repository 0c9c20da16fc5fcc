/**
 * The BPF ABI's numbers and names as plain data (enum bpf_map_type, map
 * flags): what the kernel layer passes to bpf(2) and what the image layer
 * and the browser viewer show, so both use one table. Imports nothing.
 */

/** enum bpf_map_type, without the BPF_MAP_TYPE_ prefix. */
export const MAP_TYPE = {
  UNSPEC: 0,
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  CGROUP_ARRAY: 8,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13,
  DEVMAP: 14,
  SOCKMAP: 15,
  CPUMAP: 16,
  XSKMAP: 17,
  SOCKHASH: 18,
  CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21,
  QUEUE: 22,
  STACK: 23,
  SK_STORAGE: 24,
  DEVMAP_HASH: 25,
  STRUCT_OPS: 26,
  RINGBUF: 27,
  INODE_STORAGE: 28,
  TASK_STORAGE: 29,
  BLOOM_FILTER: 30,
  USER_RINGBUF: 31,
  CGRP_STORAGE: 32,
  ARENA: 33,
} as const;

export type MapTypeName = keyof typeof MAP_TYPE;

const MAP_TYPE_NAMES: MapTypeName[] = [];
for (const [name, n] of Object.entries(MAP_TYPE)) MAP_TYPE_NAMES[n] = name as MapTypeName;

/** "HASH" for 1; undefined for a number this table does not know (a newer kernel). */
export function mapTypeName(type: number): MapTypeName | undefined {
  return MAP_TYPE_NAMES[type];
}

/** Map creation flags (and BPF_F_RDONLY/WRONLY also as open flags for OBJ_GET and *_GET_FD_BY_ID). */
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_NO_COMMON_LRU = 1 << 1;
export const BPF_F_NUMA_NODE = 1 << 2;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_F_WRONLY = 1 << 4;
export const BPF_F_STACK_BUILD_ID = 1 << 5;
export const BPF_F_ZERO_SEED = 1 << 6;
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_WRONLY_PROG = 1 << 8;
export const BPF_F_CLONE = 1 << 9;
export const BPF_F_MMAPABLE = 1 << 10;
export const BPF_F_PRESERVE_ELEMS = 1 << 11;
export const BPF_F_INNER_MAP = 1 << 12;
export const BPF_F_LINK = 1 << 13;
export const BPF_F_PATH_FD = 1 << 14;
export const BPF_F_VTYPE_BTF_OBJ_FD = 1 << 15;
export const BPF_F_TOKEN_FD = 1 << 16;
export const BPF_F_SEGV_ON_FAULT = 1 << 17;
export const BPF_F_NO_USER_CONV = 1 << 18;

/** Names of map_flags bits, lowest first, for display. */
export const MAP_FLAG_NAMES: readonly (readonly [number, string])[] = [
  [BPF_F_NO_PREALLOC, "BPF_F_NO_PREALLOC"],
  [BPF_F_NO_COMMON_LRU, "BPF_F_NO_COMMON_LRU"],
  [BPF_F_NUMA_NODE, "BPF_F_NUMA_NODE"],
  [BPF_F_RDONLY, "BPF_F_RDONLY"],
  [BPF_F_WRONLY, "BPF_F_WRONLY"],
  [BPF_F_STACK_BUILD_ID, "BPF_F_STACK_BUILD_ID"],
  [BPF_F_ZERO_SEED, "BPF_F_ZERO_SEED"],
  [BPF_F_RDONLY_PROG, "BPF_F_RDONLY_PROG"],
  [BPF_F_WRONLY_PROG, "BPF_F_WRONLY_PROG"],
  [BPF_F_CLONE, "BPF_F_CLONE"],
  [BPF_F_MMAPABLE, "BPF_F_MMAPABLE"],
  [BPF_F_PRESERVE_ELEMS, "BPF_F_PRESERVE_ELEMS"],
  [BPF_F_INNER_MAP, "BPF_F_INNER_MAP"],
  [BPF_F_LINK, "BPF_F_LINK"],
  [BPF_F_PATH_FD, "BPF_F_PATH_FD"],
  [BPF_F_VTYPE_BTF_OBJ_FD, "BPF_F_VTYPE_BTF_OBJ_FD"],
  [BPF_F_TOKEN_FD, "BPF_F_TOKEN_FD"],
  [BPF_F_SEGV_ON_FAULT, "BPF_F_SEGV_ON_FAULT"],
  [BPF_F_NO_USER_CONV, "BPF_F_NO_USER_CONV"],
];

/** The names of a map's flags ("BPF_F_NO_PREALLOC"...; bits without a name as hex). */
export function flagNames(flags: number): string[] {
  const names: string[] = [];
  let rest = flags;
  for (const [bit, name] of MAP_FLAG_NAMES) {
    if (flags & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names;
}

/** "HASH", or "type 42" for a number newer than this table. */
export function mapTypeLabel(mapType: number): string {
  return mapTypeName(mapType) ?? `type ${mapType}`;
}
