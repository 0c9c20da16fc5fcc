/**
 * An LRU map created with BPF_F_NO_COMMON_LRU has one list of free elements
 * per possible CPU, max_entries / CPUs long (the remainder of that division
 * is on no list), and an update takes its element from the list of the CPU
 * it runs on; when that list is empty the kernel evicts some of that CPU's
 * own elements. From one CPU, such a map holds its share and no more (a
 * full map of 1,000 elements on a 2-CPU machine kept 500). The dump does not
 * say which CPU held which element, and it does not matter: any split that
 * gives no CPU more than its share keeps them all. So a map fuller than one
 * share is loaded in shares, each while restore's thread is held on a CPU of
 * its own (load-contents.ts).
 */
import { BPF_F_NO_COMMON_LRU, MAP_TYPE, possibleCpus, threadCpus } from "../../kernel/index.js";
import type { MapSpec } from "../map-spec.js";

export const LRU_TYPES: ReadonlySet<number> = new Set<number>([MAP_TYPE.LRU_HASH, MAP_TYPE.LRU_PERCPU_HASH]);

/** Elements [from, until) of a map's payload, written on `cpu`. */
export interface CpuShare {
  cpu: number;
  from: number;
  until: number;
}

/** How many elements one CPU's list holds; undefined for a map with one list for all CPUs. */
export function perCpuListLength(spec: MapSpec): number | undefined {
  if (!LRU_TYPES.has(spec.mapType) || !(spec.mapFlags & BPF_F_NO_COMMON_LRU)) return undefined;
  return Math.floor(spec.maxEntries / possibleCpus());
}

/**
 * The CPUs to load `count` elements from, in turn, each with at most its
 * share; undefined when one CPU holds them all. Where the CPUs this thread
 * may run on cannot hold them all, the last takes the rest and the kernel
 * evicts that many: restore's count of the map then says so (lru-refill.ts).
 */
export function cpuShares(spec: MapSpec, count: number): CpuShare[] | undefined {
  const share = perCpuListLength(spec);
  if (share === undefined || count <= share || share === 0) return undefined;
  // Asked of the kernel only here: every map a restore loads comes through this function.
  const cpus = threadCpus();
  if (cpus.length < 2) return undefined;
  const shares: CpuShare[] = [];
  for (let i = 0, from = 0; from < count && i < cpus.length; i++) {
    const until = i === cpus.length - 1 ? count : Math.min(count, from + share);
    shares.push({ cpu: cpus[i], from, until });
    from = until;
  }
  return shares;
}

/** Why a per-CPU-list LRU map lost elements, for restore's message; "" for other maps. */
export function perCpuListNote(spec: MapSpec): string {
  const share = perCpuListLength(spec);
  if (share === undefined) return "";
  const usable = threadCpus().length;
  return ` (with BPF_F_NO_COMMON_LRU each CPU holds at most max_entries / ${possibleCpus()} = ${share} elements, and restore may run on ${usable} CPU${usable === 1 ? "" : "s"}: ${usable * share} in all)`;
}
