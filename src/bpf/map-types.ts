/**
 * What crtool can do with each BPF map type: how to read its contents back,
 * or why it cannot. A type missing from READ_PLANS is not dumpable; its
 * reason says what the kernel will not give back.
 */
import { MAP_TYPE } from "../kernel/index.js";

export type ReadMethod =
  /** BPF_MAP_LOOKUP_BATCH in chunks; per element when the kernel has no batch ops for the map. */
  | "batch"
  /** BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM, one element at a time (no type needs it on 6.18). */
  | "iterate"
  /** QUEUE / STACK: pop everything, push it all back. */
  | "pop";

export interface ReadPlan {
  method: ReadMethod;
  /** Values are inner map ids (*_OF_MAPS): each inner map is dumped too. */
  innerMaps: boolean;
  /** "pop" only: the element popped first is the oldest (QUEUE) or the newest (STACK). */
  popsOldestFirst: boolean;
}

const plan = (method: ReadMethod, innerMaps = false, popsOldestFirst = false): ReadPlan => ({ method, innerMaps, popsOldestFirst });

const READ_PLANS: ReadonlyMap<number, ReadPlan> = new Map([
  [MAP_TYPE.HASH, plan("batch")],
  // LRU maps: syscall-side lookups do not touch the LRU state, so dumping does not reorder it.
  [MAP_TYPE.LRU_HASH, plan("batch")],
  [MAP_TYPE.PERCPU_HASH, plan("batch")],
  [MAP_TYPE.LRU_PERCPU_HASH, plan("batch")],
  // Arrays: the batch walks every index, so zero values are dumped too (as CRIU does).
  [MAP_TYPE.ARRAY, plan("batch")],
  [MAP_TYPE.PERCPU_ARRAY, plan("batch")],
  // Tries had no batch ops for a long time (the reader then falls back to GET_NEXT_KEY +
  // LOOKUP); 6.18 has the generic ones. Either way only real prefixes are listed, not the
  // trie's intermediate nodes, and a lookup of a listed prefix finds exactly that prefix.
  [MAP_TYPE.LPM_TRIE, plan("batch")],
  [MAP_TYPE.HASH_OF_MAPS, plan("batch", true)],
  // Empty slots are skipped by lookups (ENOENT): only filled indexes are listed.
  [MAP_TYPE.ARRAY_OF_MAPS, plan("batch", true)],
  [MAP_TYPE.QUEUE, plan("pop", false, true)],
  [MAP_TYPE.STACK, plan("pop", false, false)],
]);

/** Why each other type cannot be dumped: what its contents are, and why they cannot come back. */
const WHY_NOT: ReadonlyMap<number, string> = new Map([
  [MAP_TYPE.PROG_ARRAY, "its values are program references the kernel cannot give back"],
  [MAP_TYPE.PERF_EVENT_ARRAY, "its values are perf event files, which cannot be read back from the map"],
  [MAP_TYPE.STACK_TRACE, "its stack traces are recorded by the kernel and cannot be written back from user space"],
  [MAP_TYPE.CGROUP_ARRAY, "its values are cgroup references the kernel cannot give back"],
  [MAP_TYPE.DEVMAP, "its values are network devices (and programs) of this network namespace"],
  [MAP_TYPE.DEVMAP_HASH, "its values are network devices (and programs) of this network namespace"],
  [MAP_TYPE.SOCKMAP, "its values are sockets, which cannot be read back from the map"],
  [MAP_TYPE.SOCKHASH, "its values are sockets, which cannot be read back from the map"],
  [MAP_TYPE.REUSEPORT_SOCKARRAY, "its values are sockets, which cannot be read back from the map"],
  [MAP_TYPE.XSKMAP, "its values are AF_XDP sockets, which cannot be read back from the map"],
  [MAP_TYPE.CPUMAP, "its values bind CPUs to kernel threads and programs"],
  [MAP_TYPE.CGROUP_STORAGE, "its storage belongs to the cgroups its programs are attached to, not to keys user space can list"],
  [MAP_TYPE.PERCPU_CGROUP_STORAGE, "its storage belongs to the cgroups its programs are attached to, not to keys user space can list"],
  [MAP_TYPE.SK_STORAGE, "its values live in sockets, not under keys user space can list"],
  [MAP_TYPE.INODE_STORAGE, "its values live in inodes, not under keys user space can list"],
  [MAP_TYPE.TASK_STORAGE, "its values live in tasks, not under keys user space can list"],
  [MAP_TYPE.CGRP_STORAGE, "its values live in cgroups, not under keys user space can list"],
  [MAP_TYPE.STRUCT_OPS, "it holds a kernel function table registered by programs"],
  [MAP_TYPE.RINGBUF, "its unread records are a stream consumed through mmap and cannot be written back from user space"],
  [MAP_TYPE.USER_RINGBUF, "its unread records can only be consumed by a BPF program"],
  [MAP_TYPE.BLOOM_FILTER, "a bloom filter can only be asked about values, never listed"],
  [MAP_TYPE.ARENA, "its contents are pages shared with programs through mmap, not elements"],
]);

/**
 * Map types that are event streams: records in flight from a producer to a
 * consumer, not state. A dump records the map without contents (ring
 * buffers: with the number of bytes left unread) and restore re-creates it
 * empty, which is what the consumer of a restarted application expects.
 */
const EVENT_STREAMS: ReadonlyMap<number, string> = new Map([
  [MAP_TYPE.RINGBUF, "a ring buffer"],
  [MAP_TYPE.USER_RINGBUF, "a user ring buffer"],
  [MAP_TYPE.PERF_EVENT_ARRAY, "a perf event array"],
]);

/** What the map is when its type is an event stream (see EVENT_STREAMS); undefined otherwise. */
export function eventStreamOf(mapType: number): string | undefined {
  return EVENT_STREAMS.get(mapType);
}

/** Ring buffers have positions whose difference is the bytes left unread. */
export function hasReadPositions(mapType: number): boolean {
  return mapType === MAP_TYPE.RINGBUF || mapType === MAP_TYPE.USER_RINGBUF;
}

/** How to read a map of this type, or why it cannot be dumped. */
export function readPlanFor(mapType: number): ReadPlan | { unsupported: string } {
  const p = READ_PLANS.get(mapType);
  if (p) return p;
  return { unsupported: WHY_NOT.get(mapType) ?? "crtool does not know how to read this map type" };
}

export { mapTypeLabel } from "../abi/bpf.js";
