/**
 * BPF map commands on single elements and whole objects: create, lookup,
 * update, delete, next key, pop, freeze, pin/get, ids.
 *
 * Keys and values are caller-owned byte buffers. The kernel reads key_size
 * bytes from a key and WRITES the full kernel value size into a value buffer
 * (value_size, or round_up(value_size, 8) × possible CPUs for per-CPU maps:
 * see kernelValueSize); a shorter buffer would let it overwrite other
 * memory. An fd does not tell these functions the map's sizes, so they
 * cannot check: size buffers from mapGetInfo() and kernelValueSize().
 */
import { BpfAttr, bpf, bpfError, bpfRaw } from "./bpf-attr.js";
import { BPF_ANY, BPF_CMD, BPF_OBJ_NAME_LEN, mapTypeNumber, type MapTypeName } from "./bpf-constants.js";
import { cString } from "./libc.js";

const ENOENT = 2;

export interface MapCreateOptions {
  mapType: number | MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags?: number;
  /** For ARRAY_OF_MAPS / HASH_OF_MAPS: a map with the inner maps' shape. */
  innerMapFd?: number;
  /** Used only with BPF_F_NUMA_NODE in mapFlags. */
  numaNode?: number;
  /** At most 15 bytes of [A-Za-z0-9_.]. */
  name?: string;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  /** BLOOM_FILTER: number of hash functions; ARENA: user address. */
  mapExtra?: bigint | number;
  /** With BPF_F_VTYPE_BTF_OBJ_FD (struct_ops maps of modules). */
  valueTypeBtfObjFd?: number;
  /** With BPF_F_TOKEN_FD. */
  mapTokenFd?: number;
}

// union bpf_attr, anonymous struct of BPF_MAP_CREATE.
const CREATE = {
  mapType: 0,
  keySize: 4,
  valueSize: 8,
  maxEntries: 12,
  mapFlags: 16,
  innerMapFd: 20,
  numaNode: 24,
  mapName: 28,
  mapIfindex: 44,
  btfFd: 48,
  btfKeyTypeId: 52,
  btfValueTypeId: 56,
  btfVmlinuxValueTypeId: 60,
  mapExtra: 64,
  valueTypeBtfObjFd: 72,
  mapTokenFd: 76,
} as const;

// BPF_MAP_*_ELEM commands.
const ELEM = { mapFd: 0, key: 8, value: 16, flags: 24 } as const;
// BPF_OBJ_PIN / BPF_OBJ_GET.
const OBJ = { pathname: 0, bpfFd: 8, fileFlags: 12 } as const;
// BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID.
const ID = { id: 0, nextId: 4, openFlags: 8 } as const;

const createAttr = new BpfAttr();
const elemAttr = new BpfAttr();
const objAttr = new BpfAttr();
const idAttr = new BpfAttr();

/** BPF_MAP_CREATE → a new map fd (O_RDWR, close-on-exec). */
export function mapCreate(o: MapCreateOptions): number {
  const a = createAttr.clear();
  a.setU32(CREATE.mapType, mapTypeNumber(o.mapType));
  a.setU32(CREATE.keySize, o.keySize);
  a.setU32(CREATE.valueSize, o.valueSize);
  a.setU32(CREATE.maxEntries, o.maxEntries);
  a.setU32(CREATE.mapFlags, o.mapFlags ?? 0);
  a.setU32(CREATE.innerMapFd, o.innerMapFd ?? 0);
  a.setU32(CREATE.numaNode, o.numaNode ?? 0);
  if (o.name) a.setName(CREATE.mapName, BPF_OBJ_NAME_LEN, o.name);
  a.setU32(CREATE.mapIfindex, o.ifindex ?? 0);
  a.setU32(CREATE.btfFd, o.btfFd ?? 0);
  a.setU32(CREATE.btfKeyTypeId, o.btfKeyTypeId ?? 0);
  a.setU32(CREATE.btfValueTypeId, o.btfValueTypeId ?? 0);
  a.setU32(CREATE.btfVmlinuxValueTypeId, o.btfVmlinuxValueTypeId ?? 0);
  a.setU64(CREATE.mapExtra, o.mapExtra ?? 0);
  a.setU32(CREATE.valueTypeBtfObjFd, o.valueTypeBtfObjFd ?? 0);
  a.setU32(CREATE.mapTokenFd, o.mapTokenFd ?? 0);
  const what = o.name ? `map "${o.name}"` : `map type ${String(o.mapType)}`;
  return bpf(BPF_CMD.MAP_CREATE, a, what);
}

function elem(cmd: number, fd: number, key: Uint8Array | null, value: Uint8Array | null, flags: number | bigint): number {
  const a = elemAttr;
  a.setU32(ELEM.mapFd, fd);
  a.setU32(ELEM.mapFd + 4, 0);
  a.setPtr(ELEM.key, key);
  a.setPtr(ELEM.value, value);
  a.setU64(ELEM.flags, flags);
  return bpfRaw(cmd, a);
}

/**
 * BPF_MAP_LOOKUP_ELEM: fills `value`; false when the key is absent (ENOENT).
 * key null peeks at a QUEUE/STACK. For fd-valued maps (PROG_ARRAY,
 * *_OF_MAPS...) the value is the object's u32 id.
 */
export function mapLookupElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags: number | bigint = 0): boolean {
  const r = elem(BPF_CMD.MAP_LOOKUP_ELEM, fd, key, value, flags);
  if (r === -ENOENT) return false;
  if (r < 0) throw bpfError(BPF_CMD.MAP_LOOKUP_ELEM, -r, `map fd ${fd}`);
  return true;
}

/**
 * BPF_MAP_UPDATE_ELEM with BPF_ANY / BPF_NOEXIST / BPF_EXIST (| BPF_F_LOCK).
 * key null pushes onto a QUEUE/STACK. For fd-valued maps the value is an fd.
 */
export function mapUpdateElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags: number | bigint = BPF_ANY): void {
  const r = elem(BPF_CMD.MAP_UPDATE_ELEM, fd, key, value, flags);
  if (r < 0) throw bpfError(BPF_CMD.MAP_UPDATE_ELEM, -r, `map fd ${fd}`);
}

/** BPF_MAP_DELETE_ELEM: false when the key was absent. */
export function mapDeleteElem(fd: number, key: Uint8Array): boolean {
  const r = elem(BPF_CMD.MAP_DELETE_ELEM, fd, key, null, 0);
  if (r === -ENOENT) return false;
  if (r < 0) throw bpfError(BPF_CMD.MAP_DELETE_ELEM, -r, `map fd ${fd}`);
  return true;
}

/**
 * BPF_MAP_GET_NEXT_KEY: writes the key after `key` (the first key when key is
 * null, or when key is absent) into nextKey; false after the last key.
 */
export function mapGetNextKey(fd: number, key: Uint8Array | null, nextKey: Uint8Array): boolean {
  const r = elem(BPF_CMD.MAP_GET_NEXT_KEY, fd, key, nextKey, 0);
  if (r === -ENOENT) return false;
  if (r < 0) throw bpfError(BPF_CMD.MAP_GET_NEXT_KEY, -r, `map fd ${fd}`);
  return true;
}

/** BPF_MAP_LOOKUP_AND_DELETE_ELEM: pops a QUEUE/STACK (key null); false when empty. */
export function mapLookupAndDeleteElem(fd: number, key: Uint8Array | null, value: Uint8Array, flags: number | bigint = 0): boolean {
  const r = elem(BPF_CMD.MAP_LOOKUP_AND_DELETE_ELEM, fd, key, value, flags);
  if (r === -ENOENT) return false;
  if (r < 0) throw bpfError(BPF_CMD.MAP_LOOKUP_AND_DELETE_ELEM, -r, `map fd ${fd}`);
  return true;
}

/** BPF_MAP_FREEZE: user space can no longer write the map (updates fail with EPERM). */
export function mapFreeze(fd: number): void {
  const a = elemAttr;
  a.setU32(ELEM.mapFd, fd);
  a.setU32(ELEM.mapFd + 4, 0);
  a.setU64(ELEM.key, 0);
  a.setU64(ELEM.value, 0);
  a.setU64(ELEM.flags, 0);
  bpf(BPF_CMD.MAP_FREEZE, a, `map fd ${fd}`);
}

/** BPF_OBJ_PIN: pins a map/prog/link fd at a path on a bpffs mount. */
export function objPin(fd: number, path: string | Uint8Array): void {
  const p = cString(path);
  const a = objAttr.clear();
  a.setPtr(OBJ.pathname, p);
  a.setU32(OBJ.bpfFd, fd);
  bpf(BPF_CMD.OBJ_PIN, a, `fd ${fd} at ${String(path)}`);
}

/** BPF_OBJ_GET: opens a pinned object; fileFlags BPF_F_RDONLY / BPF_F_WRONLY restrict the new fd. */
export function objGet(path: string | Uint8Array, fileFlags = 0): number {
  const p = cString(path);
  const a = objAttr.clear();
  a.setPtr(OBJ.pathname, p);
  a.setU32(OBJ.fileFlags, fileFlags);
  return bpf(BPF_CMD.OBJ_GET, a, String(path));
}

/** The next id after `startId` for BPF_{MAP,PROG,BTF,LINK}_GET_NEXT_ID; null after the last. */
export function getNextId(cmd: number, startId: number): number | null {
  const a = idAttr.clear();
  a.setU32(ID.id, startId);
  const r = bpfRaw(cmd, a);
  if (r === -ENOENT) return null;
  if (r < 0) throw bpfError(cmd, -r, `after id ${startId}`);
  return a.u32(ID.nextId);
}

/** Opens an object by id with BPF_{MAP,PROG,BTF,LINK}_GET_FD_BY_ID. */
export function getFdById(cmd: number, id: number, openFlags = 0): number {
  const a = idAttr.clear();
  a.setU32(ID.id, id);
  a.setU32(ID.openFlags, openFlags);
  return bpf(cmd, a, `id ${id}`);
}

/** BPF_MAP_GET_NEXT_ID: the smallest map id above startId (0 for the first), or null. */
export function mapGetNextId(startId: number): number | null {
  return getNextId(BPF_CMD.MAP_GET_NEXT_ID, startId);
}

/** BPF_MAP_GET_FD_BY_ID with open_flags BPF_F_RDONLY / BPF_F_WRONLY (or 0 for read-write). */
export function mapGetFdById(id: number, openFlags = 0): number {
  return getFdById(BPF_CMD.MAP_GET_FD_BY_ID, id, openFlags);
}

/** Every map id on the system, ascending (needs CAP_SYS_ADMIN). */
export function mapIds(): number[] {
  const ids: number[] = [];
  for (let id = mapGetNextId(0); id !== null; id = mapGetNextId(id)) ids.push(id);
  return ids;
}
