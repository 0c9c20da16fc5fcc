/**
 * A live map's MapSpec (dump time): its attributes from the target's fdinfo
 * (CRIU's fields, as CRIU takes them) and bpf_map_info, its BTF, this
 * machine's possible-CPU count for per-CPU maps, the NUMA node when there is
 * only one, and for a map-in-map the template of the maps it holds.
 */
import {
  BPF_F_NUMA_NODE,
  btfGetData,
  btfGetFdById,
  close,
  isPerCpuMap,
  mapGetFdById,
  mapGetInfo,
  mapGetNextKey,
  mapLookupElem,
  possibleNumaNodes,
  possibleCpus,
  readFdinfo,
  stableBuffer,
  type BpfMapFdinfo,
  type MapInfo,
} from "../kernel/index.js";
import { InvalidMessageError } from "../images/errors.js";
import { MapSpec, type MapBtf } from "./map-spec.js";

export interface CaptureOptions {
  /**
   * The target's fdinfo of the map: the CRIU fields (type, sizes, flags,
   * memlock, frozen) are taken from it, as CRIU does. Default: our own fd's.
   */
  fdinfo?: BpfMapFdinfo;
  /** Read the BTF blob (default true); off when another record already carries it. */
  btfData?: boolean;
  /** For *_OF_MAPS, find the inner map template (default true). */
  inner?: boolean;
  /** bpf_map_info of the map, if the caller has it already (saves a system call). */
  info?: MapInfo;
}

/** The blueprint of the map behind `fd` (any open file of it). */
export function captureSpec(fd: number, opts: CaptureOptions = {}): MapSpec {
  const info = opts.info ?? mapGetInfo(fd);
  const fi = opts.fdinfo ?? readFdinfo("self", fd).bpfMap;
  if (!fi) throw new InvalidMessageError(`fd ${fd}: fdinfo has no BPF map fields`);
  const btf: MapBtf | undefined = info.btfId
    ? {
        id: info.btfId,
        keyTypeId: info.btfKeyTypeId,
        valueTypeId: info.btfValueTypeId,
        vmlinuxValueTypeId: info.btfVmlinuxValueTypeId,
        data: opts.btfData === false ? undefined : readBtf(info.btfId),
      }
    : undefined;
  const spec = new MapSpec({
    mapType: fi.mapType,
    keySize: fi.keySize,
    valueSize: fi.valueSize,
    maxEntries: fi.maxEntries,
    mapFlags: fi.mapFlags,
    name: info.name,
    mapExtra: fi.mapExtra,
    ifindex: info.ifindex,
    numaNode: fi.mapFlags & BPF_F_NUMA_NODE ? onlyNumaNode() : undefined,
    btf,
    frozen: fi.frozen,
    possibleCpus: isPerCpuMap(fi.mapType) ? possibleCpus() : undefined,
    mapId: fi.mapId,
    memlock: BigInt(fi.memlock),
  });
  if (!spec.isMapInMap || opts.inner === false) return spec;
  const inner = innerTemplate(fd, fi.keySize);
  return inner ? spec.with({ inner }) : spec;
}

function readBtf(id: number): Uint8Array {
  const fd = btfGetFdById(id);
  try {
    return btfGetData(fd);
  } finally {
    close(fd);
  }
}

/**
 * The kernel keeps a map's NUMA node to itself (neither bpf_map_info nor
 * fdinfo has it), so it is known only when there is a single node to choose
 * from.
 */
function onlyNumaNode(): number | undefined {
  const nodes = possibleNumaNodes();
  return nodes.length === 1 ? nodes[0] : undefined;
}

/**
 * The template of a map-in-map's inner maps, taken from the first inner map
 * it holds (the kernel only accepts inner maps that match the template it
 * was created with, so any one of them has the template's type, sizes and
 * flags; max_entries may differ when the template had BPF_F_INNER_MAP).
 *
 * An empty outer map gives nothing to look at, and BPF_OBJ_GET_INFO says
 * nothing about the template either: then there is no template in the
 * image, and restore must get one elsewhere (the user, or the application
 * that created the map) before it can create the outer map.
 */
function innerTemplate(outerFd: number, keySize: number): MapSpec | undefined {
  const id = firstInnerMapId(outerFd, keySize);
  if (id === undefined) return undefined;
  const fd = mapGetFdById(id);
  try {
    // Its BTF blob, if any, is stored on the inner map's own record.
    return captureSpec(fd, { btfData: false, inner: false });
  } finally {
    close(fd);
  }
}

/** The first value of a *_OF_MAPS (an inner map id), skipping empty ARRAY_OF_MAPS slots. */
function firstInnerMapId(fd: number, keySize: number): number | undefined {
  let prev: Buffer | null = null;
  const key = stableBuffer(keySize);
  const value = stableBuffer(4);
  const next = stableBuffer(keySize);
  while (mapGetNextKey(fd, prev, next)) {
    key.set(next);
    if (mapLookupElem(fd, key, value)) return value.readUInt32LE(0);
    prev = key;
  }
  return undefined;
}
