/**
 * MapSpec: the blueprint of a BPF map as an image records it — everything
 * BPF_MAP_CREATE (and BPF_MAP_FREEZE) needs to make the map again, plus the
 * facts restore must know to refill and find it (old map id, per-CPU layout,
 * pin path). Plain data: it never holds an fd and asks nothing of the
 * machine. Captured from a live map at dump time (map-capture.ts), mapped
 * to and from files.img entries (map-spec-image.ts).
 */
import { MAP_TYPE, isPerCpuMap, kernelValueSize, type MapCreateOptions } from "../kernel/index.js";
import { InvalidMessageError } from "../images/errors.js";
import { mapTypeLabel } from "./map-types.js";

/** The map's BTF: the object's id at dump time and the type ids of key and value in it. */
export interface MapBtf {
  id: number;
  keyTypeId: number;
  valueTypeId: number;
  /** struct_ops value type in vmlinux BTF; 0 otherwise. */
  vmlinuxValueTypeId: number;
  /**
   * The raw BTF object (what BPF_BTF_LOAD takes). An image holds it once per
   * btf id, so this is undefined on the other records with the same id:
   * restore collects the blobs of all records by id before creating maps.
   */
  data: Uint8Array | undefined;
  /** Where the blob comes from when not from the dump (restore --upgrade-to: "the BTF of OBJ"), for messages. */
  origin?: string;
}

export interface MapSpecInit {
  mapType: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  name: string;
  mapExtra?: bigint;
  ifindex?: number;
  /** With BPF_F_NUMA_NODE: the node, when known (the kernel does not report it). */
  numaNode?: number;
  btf?: MapBtf;
  frozen?: boolean;
  /** Per-CPU maps: the possible-CPU count the values were read with. */
  possibleCpus?: number;
  /** *_OF_MAPS: the template of the maps it holds (BPF_MAP_CREATE's inner_map_fd). */
  inner?: MapSpec;
  pinPath?: string;
  /** The kernel's id for the map when it was dumped (0 when unknown). */
  mapId?: number;
  memlock?: bigint;
}

export class MapSpec {
  readonly mapType: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly name: string;
  readonly mapExtra: bigint;
  readonly ifindex: number;
  readonly numaNode: number | undefined;
  readonly btf: MapBtf | undefined;
  readonly frozen: boolean;
  readonly possibleCpus: number | undefined;
  readonly inner: MapSpec | undefined;
  readonly pinPath: string | undefined;
  readonly mapId: number;
  readonly memlock: bigint;

  constructor(init: MapSpecInit) {
    this.mapType = init.mapType;
    this.keySize = init.keySize;
    this.valueSize = init.valueSize;
    this.maxEntries = init.maxEntries;
    this.mapFlags = init.mapFlags;
    this.name = init.name;
    this.mapExtra = init.mapExtra ?? 0n;
    this.ifindex = init.ifindex ?? 0;
    this.numaNode = init.numaNode;
    this.btf = init.btf;
    this.frozen = init.frozen ?? false;
    this.possibleCpus = init.possibleCpus;
    this.inner = init.inner;
    this.pinPath = init.pinPath;
    this.mapId = init.mapId ?? 0;
    this.memlock = init.memlock ?? 0n;
  }

  /** "HASH", "PERCPU_ARRAY"... ("type 42" for a type newer than crtool). */
  get typeName(): string {
    return mapTypeLabel(this.mapType);
  }

  get isPerCpu(): boolean {
    return isPerCpuMap(this.mapType);
  }

  get isMapInMap(): boolean {
    return this.mapType === MAP_TYPE.HASH_OF_MAPS || this.mapType === MAP_TYPE.ARRAY_OF_MAPS;
  }

  /**
   * Bytes of one value in bpfmap-data payloads and in batch calls (per-CPU:
   * one 8-aligned slot per CPU of the recorded possible-CPU count; a per-CPU
   * spec that recorded none has no stride).
   */
  get valueStride(): number {
    if (!this.isPerCpu) return this.valueSize;
    if (this.possibleCpus === undefined) throw new InvalidMessageError(`${this.typeName} map ${this.mapId} has no recorded possible-CPU count, so its values' size is unknown`);
    return kernelValueSize(this.mapType, this.valueSize, this.possibleCpus);
  }

  /** A copy with other fields (e.g. the pin path, or the BTF blob dropped). */
  with(changes: Partial<MapSpecInit>): MapSpec {
    return new MapSpec({ ...this.init(), ...changes });
  }

  private init(): MapSpecInit {
    return {
      mapType: this.mapType,
      keySize: this.keySize,
      valueSize: this.valueSize,
      maxEntries: this.maxEntries,
      mapFlags: this.mapFlags,
      name: this.name,
      mapExtra: this.mapExtra,
      ifindex: this.ifindex,
      numaNode: this.numaNode,
      btf: this.btf,
      frozen: this.frozen,
      possibleCpus: this.possibleCpus,
      inner: this.inner,
      pinPath: this.pinPath,
      mapId: this.mapId,
      memlock: this.memlock,
    };
  }

  /**
   * BPF_MAP_CREATE's options for this spec. The caller adds what only exists
   * at restore time: btfFd (a BTF_LOAD of btf.data) and, for *_OF_MAPS,
   * innerMapFd (a map created from `inner`).
   */
  toCreateOptions(): MapCreateOptions {
    return {
      mapType: this.mapType,
      keySize: this.keySize,
      valueSize: this.valueSize,
      maxEntries: this.maxEntries,
      mapFlags: this.mapFlags & ~kernelAddedFlags(this.mapType),
      name: this.name,
      ifindex: this.ifindex,
      numaNode: this.numaNode,
      mapExtra: this.mapExtra,
      btfKeyTypeId: this.btf?.keyTypeId,
      btfValueTypeId: this.btf?.valueTypeId,
      btfVmlinuxValueTypeId: this.btf?.vmlinuxValueTypeId,
    };
  }
}

const BPF_F_RDONLY_PROG = 1 << 7;

/**
 * Flags the kernel sets on a map of this type itself, which BPF_MAP_CREATE
 * refuses from user space: device maps are read-only to programs
 * (dev_map_alloc adds BPF_F_RDONLY_PROG), so their info reports it.
 */
function kernelAddedFlags(mapType: number): number {
  return mapType === MAP_TYPE.DEVMAP || mapType === MAP_TYPE.DEVMAP_HASH ? BPF_F_RDONLY_PROG : 0;
}
