/**
 * BPF_MAP_CREATE from a MapSpec: everything the image recorded (type, sizes,
 * max_entries, flags, name, map_extra, NUMA node, device, BTF), plus what
 * only exists now: the BTF object's fd and, for map-in-maps, a map with the
 * inner maps' shape (inner_map_fd, used by the kernel as a template only).
 */
import { faultPoint } from "../../debug/hooks.js";
import { BPF_F_NUMA_NODE, SyscallError, mapCreate, type MapCreateOptions } from "../../kernel/index.js";
import type { MapSpec } from "../map-spec.js";
import type { BtfCache } from "./btf-cache.js";
import { describeMap } from "./describe.js";
import { MapRestoreError } from "./errors.js";
import { netdevName } from "./netdev.js";

export interface CreateMapDeps {
  btf: BtfCache;
  /** *_OF_MAPS: a map of the inner maps' shape (the caller keeps owning it). */
  innerMapFd?: number;
}

/** Creates the map `spec` describes, empty; returns its fd (O_RDWR). */
export function createMap(spec: MapSpec, deps: CreateMapDeps): number {
  const who = describeMap(spec);
  const opts: MapCreateOptions = spec.toCreateOptions();
  if (spec.ifindex !== 0 && netdevName(spec.ifindex) === undefined) {
    throw new MapRestoreError(`${who} was offloaded to network device ifindex ${spec.ifindex}, and there is no such device here`);
  }
  // The kernel does not report a map's node; when it was not known at dump time,
  // node 0 is what CRIU uses too (and exists on every machine).
  if (spec.mapFlags & BPF_F_NUMA_NODE) opts.numaNode = spec.numaNode ?? 0;
  if (spec.btf) opts.btfFd = deps.btf.fdFor(spec.btf, who);
  if (spec.isMapInMap) {
    if (deps.innerMapFd === undefined) throw new TypeError(`${who}: a map-in-map needs an inner map template`);
    opts.innerMapFd = deps.innerMapFd;
  }
  try {
    faultPoint("map-create");
    return mapCreate(opts);
  } catch (e) {
    if (!(e instanceof SyscallError) && !(e instanceof TypeError)) throw e;
    throw new MapRestoreError(`${who}: the kernel refused to create it${createDetails(spec)}: ${e instanceof SyscallError ? e.brief : e.message}`);
  }
}

/** The template map for a map-in-map's inner_map_fd; close it once the outer map exists. */
export function createInnerTemplate(outer: MapSpec, template: MapSpec, btf: BtfCache): number {
  try {
    return createMap(template, { btf });
  } catch (e) {
    if (!(e instanceof MapRestoreError)) throw e;
    throw new MapRestoreError(`${describeMap(outer)}: its inner map template could not be created: ${e.reason}`);
  }
}

/** What else the create asked for, so a refusal says which recorded attribute may be the cause. */
function createDetails(spec: MapSpec): string {
  const parts = [`key ${spec.keySize} bytes`, `value ${spec.valueSize} bytes`, `max_entries ${spec.maxEntries}`, `map_flags 0x${spec.mapFlags.toString(16)}`];
  if (spec.mapExtra !== 0n) parts.push(`map_extra 0x${spec.mapExtra.toString(16)}`);
  if (spec.ifindex !== 0) parts.push(`on ifindex ${spec.ifindex} (${netdevName(spec.ifindex) ?? "?"})`);
  if (spec.btf) parts.push(`BTF key type ${spec.btf.keyTypeId}, value type ${spec.btf.valueTypeId}`);
  return ` (${parts.join(", ")})`;
}
