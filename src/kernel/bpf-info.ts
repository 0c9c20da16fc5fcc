/**
 * BPF_OBJ_GET_INFO_BY_FD for maps, and the sizes derived from a map's info.
 *
 * struct bpf_map_info grows with the kernel (88 bytes in 6.1, 104 in 6.18
 * with hash/hash_size). We pass a larger zeroed buffer: the kernel accepts a
 * longer struct if the tail it does not know is zero, fills what it knows and
 * writes the length it used back into info_len; fields past that length are
 * reported as 0. Since 6.18 the kernel also READS the struct first (for
 * hash), so the buffer must be zeroed on every call.
 */
import { readlinkSync } from "node:fs";
import { BpfAttr, bpf } from "./bpf-attr.js";
import { BPF_CMD, PERCPU_MAP_TYPES, mapTypeName, type MapTypeName } from "./bpf-constants.js";
import { addressOf, stableBuffer } from "./libc.js";
import { possibleCpus } from "./procfs.js";
import { SyscallError } from "./errors.js";

export interface MapInfo {
  type: number;
  /** undefined for a type newer than this table. */
  typeName: MapTypeName | undefined;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  name: string;
  ifindex: number;
  btfVmlinuxValueTypeId: number;
  netnsDev: bigint;
  netnsIno: bigint;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  /** For struct_ops maps: id of the kernel BTF object the value type is from (6.9+). */
  btfVmlinuxId: number;
  mapExtra: bigint;
  /** How many bytes of struct bpf_map_info the running kernel filled (88 on 6.1, 104 on 6.18). */
  infoLen: number;
  /** SHA-256 of all values in index order, when asked for (frozen ARRAY maps, 6.18+). */
  hash: Uint8Array | undefined;
}

// struct bpf_map_info.
const INFO = {
  type: 0,
  id: 4,
  keySize: 8,
  valueSize: 12,
  maxEntries: 16,
  mapFlags: 20,
  name: 24,
  ifindex: 40,
  btfVmlinuxValueTypeId: 44,
  netnsDev: 48,
  netnsIno: 56,
  btfId: 64,
  btfKeyTypeId: 68,
  btfValueTypeId: 72,
  btfVmlinuxId: 76,
  mapExtra: 80,
  hash: 88,
  hashSize: 96,
} as const;

/**
 * BPF_OBJ_GET_INFO_BY_FD of any BPF object into `info` (its struct, zeroed
 * or with the caller's pointers set); returns the length the kernel filled.
 * `what` names the object for errors.
 */
export function objGetInfo(fd: number, info: Uint8Array, what: string): number {
  const a = objInfoAttr.clear();
  a.setU32(INFO_ATTR.bpfFd, fd);
  a.setU32(INFO_ATTR.infoLen, info.byteLength);
  a.setPtr(INFO_ATTR.info, info);
  bpf(BPF_CMD.OBJ_GET_INFO_BY_FD, a, what);
  return a.u32(INFO_ATTR.infoLen);
}

// The info struct of BPF_OBJ_GET_INFO_BY_FD inside union bpf_attr.
export const INFO_ATTR = { bpfFd: 0, infoLen: 4, info: 8 } as const;
const objInfoAttr = new BpfAttr();

/** Room for future bpf_map_info growth; the kernel only checks that the unknown tail is zero. */
const INFO_BUF_SIZE = 256;
const SHA256_SIZE = 32;

const infoBuf = stableBuffer(INFO_BUF_SIZE);
const hashBuf = stableBuffer(SHA256_SIZE);

export interface MapInfoOptions {
  /**
   * Ask the kernel for a SHA-256 of the values (6.18+, ARRAY maps only, and
   * only once frozen: EPERM before, EINVAL for other types, E2BIG on older
   * kernels).
   */
  hash?: boolean;
  /** The caller knows the fd is a map (its fdinfo says so): skip the /proc check. */
  knownMap?: boolean;
}

export function mapGetInfo(fd: number, opts: MapInfoOptions = {}): MapInfo {
  infoBuf.fill(0);
  if (opts.hash) {
    hashBuf.fill(0);
    // x86_64 and aarch64 Linux are little-endian (syscall-numbers.ts refuses the rest).
    infoBuf.writeBigUInt64LE(BigInt(addressOf(hashBuf)), INFO.hash);
    infoBuf.writeUInt32LE(SHA256_SIZE, INFO.hashSize);
  }
  const len = objGetInfo(fd, infoBuf, `map fd ${fd}`);
  if (!opts.knownMap) assertMapFd(fd);
  const info = parseMapInfo(infoBuf, 0, len);
  if (opts.hash && len >= INFO.hashSize + 4) info.hash = Uint8Array.from(hashBuf);
  return info;
}

/** Bytes of struct bpf_map_info asked for when the hash is not (the kernel fills what it has, up to this). */
export const MAP_INFO_SIZE = 128;

/** A struct bpf_map_info the kernel filled `len` bytes of, at `base` in `b` (fields past `len` are 0). */
export function parseMapInfo(b: Buffer, base: number, len: number): MapInfo {
  // A DataView's reads are V8 builtins: fast from the first call, where a dump of
  // thousands of maps makes most of its calls (Buffer's readers are JavaScript).
  const v = new DataView(b.buffer, b.byteOffset + base, Math.min(len, b.length - base));
  const u32 = (off: number) => (off + 4 <= len ? v.getUint32(off, true) : 0);
  const u64 = (off: number) => (off + 8 <= len && (v.getUint32(off, true) !== 0 || v.getUint32(off + 4, true) !== 0) ? v.getBigUint64(off, true) : 0n);
  const nameEnd = b.indexOf(0, base + INFO.name);
  const nameLimit = base + INFO.ifindex;
  const type = u32(INFO.type);
  return {
    type,
    typeName: mapTypeName(type),
    id: u32(INFO.id),
    keySize: u32(INFO.keySize),
    valueSize: u32(INFO.valueSize),
    maxEntries: u32(INFO.maxEntries),
    mapFlags: u32(INFO.mapFlags),
    name: b.toString("utf8", base + INFO.name, nameEnd < 0 ? nameLimit : Math.min(nameEnd, nameLimit)),
    ifindex: u32(INFO.ifindex),
    btfVmlinuxValueTypeId: u32(INFO.btfVmlinuxValueTypeId),
    netnsDev: u64(INFO.netnsDev),
    netnsIno: u64(INFO.netnsIno),
    btfId: u32(INFO.btfId),
    btfKeyTypeId: u32(INFO.btfKeyTypeId),
    btfValueTypeId: u32(INFO.btfValueTypeId),
    btfVmlinuxId: u32(INFO.btfVmlinuxId),
    mapExtra: u64(INFO.mapExtra),
    infoLen: len,
    hash: undefined,
  };
}

/**
 * OBJ_GET_INFO_BY_FD answers for any BPF object, filling the buffer with a
 * different struct for programs, links and BTF; refuse those rather than
 * return nonsense. Skipped when /proc is unavailable.
 */
function assertMapFd(fd: number): void {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return;
  }
  if (target !== "anon_inode:bpf-map") {
    throw new SyscallError({ syscall: "bpf", operation: "BPF_OBJ_GET_INFO_BY_FD", errno: 22, detail: `fd ${fd} is ${target}, not a BPF map` });
  }
}

/** True for map types whose values come once per possible CPU. */
export function isPerCpuMap(mapType: number): boolean {
  return PERCPU_MAP_TYPES.has(mapType);
}

/**
 * Bytes the kernel reads/writes for one value in lookups, updates and
 * batches: value_size, or round_up(value_size, 8) × possible CPUs for
 * per-CPU maps.
 */
export function kernelValueSize(mapType: number, valueSize: number, cpus: number = possibleCpus()): number {
  return isPerCpuMap(mapType) ? Math.ceil(valueSize / 8) * 8 * cpus : valueSize;
}
