/**
 * MapSpec: the blueprint of a BPF map as an image records it — everything
 * BPF_MAP_CREATE (and BPF_MAP_FREEZE) needs to make the map again, plus the
 * facts restore must know to refill and find it (old map id, per-CPU layout,
 * pin path). Built from a live map at dump time or from a files.img entry at
 * restore time; it never holds an fd.
 */
import type { MapInfo } from "../kernel/index.js";
import { readFileSync } from "node:fs";
import {
  BPF_F_NUMA_NODE,
  MAP_TYPE,
  btfGetData,
  btfGetFdById,
  close,
  isPerCpuMap,
  kernelValueSize,
  mapGetFdById,
  mapGetInfo,
  mapGetNextKey,
  mapLookupElem,
  parseCpuList,
  possibleCpus,
  readFdinfo,
  stableBuffer,
  type BpfMapFdinfo,
  type MapCreateOptions,
} from "../kernel/index.js";
import { InvalidUtf8, type ImageMessage } from "../images/index.js";
import { InvalidMessageError } from "../images/errors.js";
import type { BpfmapFileEntry, FownEntry } from "../images/schema/types.js";
import { getExtFields, setExtFields, type CrtoolBpfmapFileExt, type CrtoolBpfmapTemplate } from "../images/ext-fields.js";
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

/** The open-file facts of a bpfmap_file_entry (everything that is not the map). */
export interface MapFileAttrs {
  id: number;
  /** File f_flags without O_CLOEXEC. */
  flags: number;
  pos: bigint;
  fown: FownEntry;
  mntId?: number;
}

export interface FromLiveOptions {
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

  /** Bytes of one value in bpfmap-data payloads and in batch calls (per-CPU: one 8-aligned slot per CPU). */
  get valueStride(): number {
    return kernelValueSize(this.mapType, this.valueSize, this.possibleCpus ?? possibleCpus());
  }

  /** The blueprint of the map behind `fd` (any open file of it). */
  static fromLive(fd: number, opts: FromLiveOptions = {}): MapSpec {
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
    return spec.withInner(innerTemplate(fd, fi.keySize));
  }

  /** The blueprint recorded in a files.img entry (`file_entry.bpf`), extension fields included. */
  static fromImage(entry: BpfmapFileEntry | ImageMessage): MapSpec {
    const e = entry as BpfmapFileEntry;
    const ext = getExtFields("bpfmap_file_entry", entry as ImageMessage);
    return new MapSpec({
      mapType: e.map_type,
      keySize: e.key_size,
      valueSize: e.value_size,
      maxEntries: e.max_entries,
      mapFlags: e.map_flags,
      name: text(e.map_name),
      mapExtra: e.map_extra ?? 0n,
      ifindex: e.ifindex,
      numaNode: ext.numa_node,
      btf: ext.btf_id
        ? {
            id: ext.btf_id,
            keyTypeId: ext.btf_key_type_id ?? 0,
            valueTypeId: ext.btf_value_type_id ?? 0,
            vmlinuxValueTypeId: ext.btf_vmlinux_value_type_id ?? 0,
            data: ext.btf_data,
          }
        : undefined,
      frozen: e.frozen,
      possibleCpus: ext.possible_cpus,
      inner: ext.inner_map ? MapSpec.fromTemplate(ext.inner_map) : undefined,
      pinPath: ext.pin_path === undefined ? undefined : text(ext.pin_path),
      mapId: e.map_id,
      memlock: e.memlock,
    });
  }

  static fromTemplate(t: CrtoolBpfmapTemplate): MapSpec {
    return new MapSpec({
      mapType: t.map_type,
      keySize: t.key_size,
      valueSize: t.value_size,
      maxEntries: t.max_entries,
      mapFlags: t.map_flags,
      name: t.map_name === undefined ? "" : text(t.map_name),
      mapExtra: t.map_extra,
      numaNode: t.numa_node,
      btf: t.btf_id ? { id: t.btf_id, keyTypeId: t.btf_key_type_id ?? 0, valueTypeId: t.btf_value_type_id ?? 0, vmlinuxValueTypeId: 0, data: undefined } : undefined,
      mapId: t.source_map_id,
    });
  }

  /** A copy with other fields (e.g. the pin path, or the BTF blob dropped). */
  with(changes: Partial<MapSpecInit>): MapSpec {
    return new MapSpec({ ...this.init(), ...changes });
  }

  private withInner(inner: MapSpec | undefined): MapSpec {
    return inner ? this.with({ inner }) : this;
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

  /** The inner-map template message (for the outer map's extension fields). */
  toTemplate(): CrtoolBpfmapTemplate {
    const t: CrtoolBpfmapTemplate = {
      map_type: this.mapType,
      key_size: this.keySize,
      value_size: this.valueSize,
      max_entries: this.maxEntries,
      map_flags: this.mapFlags,
    };
    if (this.mapExtra !== 0n) t.map_extra = this.mapExtra;
    if (this.name) t.map_name = this.name;
    if (this.numaNode !== undefined) t.numa_node = this.numaNode;
    if (this.btf) {
      t.btf_id = this.btf.id;
      t.btf_key_type_id = this.btf.keyTypeId;
      t.btf_value_type_id = this.btf.valueTypeId;
    }
    if (this.mapId) t.source_map_id = this.mapId;
    return t;
  }

  /** The extension fields this spec adds to its bpfmap_file_entry. */
  fileExt(): CrtoolBpfmapFileExt {
    const ext: CrtoolBpfmapFileExt = {};
    if (this.btf) {
      ext.btf_id = this.btf.id;
      ext.btf_key_type_id = this.btf.keyTypeId;
      ext.btf_value_type_id = this.btf.valueTypeId;
      if (this.btf.vmlinuxValueTypeId) ext.btf_vmlinux_value_type_id = this.btf.vmlinuxValueTypeId;
      if (this.btf.data) ext.btf_data = this.btf.data;
    }
    if (this.isPerCpu && this.possibleCpus !== undefined) ext.possible_cpus = this.possibleCpus;
    if (this.numaNode !== undefined) ext.numa_node = this.numaNode;
    if (this.inner) ext.inner_map = this.inner.toTemplate();
    if (this.pinPath !== undefined) ext.pin_path = this.pinPath;
    return ext;
  }

  /**
   * The files.img `file_entry.bpf` message: CRIU 4.2's fields as CRIU writes
   * them (map_extra only when non-zero, which CRIU never writes) plus the
   * extension fields; `more` adds or overrides extension fields.
   */
  toFileEntry(file: MapFileAttrs, more: CrtoolBpfmapFileExt = {}): ImageMessage {
    const entry: BpfmapFileEntry = {
      id: file.id,
      flags: file.flags,
      pos: file.pos,
      fown: file.fown,
      map_type: this.mapType,
      key_size: this.keySize,
      value_size: this.valueSize,
      map_id: this.mapId,
      max_entries: this.maxEntries,
      map_flags: this.mapFlags,
      memlock: this.memlock,
      frozen: this.frozen,
      map_name: this.name,
      ifindex: this.ifindex,
    };
    if (file.mntId !== undefined) entry.mnt_id = file.mntId;
    if (this.mapExtra !== 0n) entry.map_extra = this.mapExtra;
    const msg = entry as unknown as ImageMessage;
    setExtFields("bpfmap_file_entry", msg, { ...this.fileExt(), ...more });
    return msg;
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
      mapFlags: this.mapFlags,
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

function text(v: string | InvalidUtf8): string {
  return v instanceof InvalidUtf8 ? new TextDecoder().decode(v.bytes) : v;
}

function readBtf(id: number): Uint8Array {
  const fd = btfGetFdById(id);
  try {
    return btfGetData(fd);
  } finally {
    close(fd);
  }
}

let numaNode: number | undefined | null = null;

/**
 * The kernel keeps a map's NUMA node to itself (neither bpf_map_info nor
 * fdinfo has it), so it is known only when there is a single node to choose
 * from. Without NUMA support at all, node 0 is the only valid one.
 */
function onlyNumaNode(): number | undefined {
  if (numaNode !== null) return numaNode;
  let nodes: number[];
  try {
    nodes = parseCpuList(readFileSync("/sys/devices/system/node/possible", "utf8"));
  } catch {
    nodes = [0];
  }
  return (numaNode = nodes.length === 1 ? nodes[0] : undefined);
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
    return MapSpec.fromLive(fd, { btfData: false, inner: false });
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
