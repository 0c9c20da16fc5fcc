/**
 * BPF_MAP_{LOOKUP,LOOKUP_AND_DELETE,UPDATE,DELETE}_BATCH: many elements per
 * system call, the fast way to dump and restore a large map.
 *
 * Kernel behaviour callers must know:
 * - The call that reaches the end returns ENOENT *with* count > 0 and those
 *   elements are valid; ENOENT is how the end is signalled, not a failure.
 * - Hash maps never split a bucket between calls: a batch smaller than the
 *   most crowded bucket returns ENOSPC with count 0 (BatchTooSmallError);
 *   grow the batch and call again with the same token.
 * - The token (in_batch/out_batch) is a u32 bucket index for hash maps and a
 *   key for arrays; batchTokenSize(keySize) fits both.
 * - Values are the kernel value size (kernelValueSize): per-CPU maps return
 *   one 8-byte-aligned slot per possible CPU.
 * - elem_flags accepts only BPF_F_LOCK (6.18): batch updates always behave
 *   like BPF_ANY; BPF_NOEXIST/BPF_EXIST are refused with EINVAL.
 * - When a call fails before touching any element (bad flags, EPERM on a
 *   frozen or read-only map...) the kernel leaves `count` as given; errors
 *   here report 0 processed in that case, since a failure at element i
 *   always reports i < count.
 * - After a lookup reports done, do not call again with its token: hash maps
 *   then answer ENOENT without writing count.
 */
import { BpfAttr, bpfRaw, bpfRawAsync } from "./bpf-attr.js";
import { BPF_CMD, bpfCmdName } from "./bpf-constants.js";
import { BatchError, BatchTooSmallError, SyscallError, errnoNumber } from "./errors.js";

export const ENOENT = 2;
export const ENOSPC = 28;

// The batch struct of union bpf_attr.
export const BATCH = { inBatch: 0, outBatch: 8, keys: 16, values: 24, count: 32, mapFd: 36, elemFlags: 40, flags: 48 } as const;

/** Bytes for a batch token: a u32 bucket for hash maps, a whole key for the others. */
export function batchTokenSize(keySize: number): number {
  return Math.max(4, keySize);
}

export interface BatchLookupRequest {
  keySize: number;
  /** Bytes per value as the kernel copies it (kernelValueSize). */
  valueSize: number;
  /** The previous call's outBatch, or null to start at the beginning. */
  inBatch: Uint8Array | null;
  /** Receives the token for the next call (batchTokenSize bytes; may be the same buffer as inBatch). */
  outBatch: Uint8Array;
  /** Room for `count` keys and `count` values. */
  keys: Uint8Array;
  values: Uint8Array;
  count: number;
  elemFlags?: number | bigint;
}

export interface BatchLookupResult {
  /** Elements written to keys/values. */
  count: number;
  /** The end was reached (ENOENT); do not call again with this token. */
  done: boolean;
}

const lookupAttr = new BpfAttr();
const updateAttr = new BpfAttr();

/** BPF_MAP_LOOKUP_BATCH. Throws BatchTooSmallError (ENOSPC) or BatchError. */
export function mapLookupBatch(fd: number, req: BatchLookupRequest): BatchLookupResult {
  return lookupBatch(BPF_CMD.MAP_LOOKUP_BATCH, fd, req);
}

/** BPF_MAP_LOOKUP_AND_DELETE_BATCH: like mapLookupBatch, and removes what it returns. */
export function mapLookupAndDeleteBatch(fd: number, req: BatchLookupRequest): BatchLookupResult {
  return lookupBatch(BPF_CMD.MAP_LOOKUP_AND_DELETE_BATCH, fd, req);
}

function lookupBatch(cmd: number, fd: number, req: BatchLookupRequest): BatchLookupResult {
  checkRoom(req.keys, req.count, req.keySize, "keys");
  checkRoom(req.values, req.count, req.valueSize, "values");
  checkRoom(req.outBatch, 1, batchTokenSize(req.keySize), "outBatch");
  if (req.inBatch) checkRoom(req.inBatch, 1, batchTokenSize(req.keySize), "inBatch");
  const a = lookupAttr.clear();
  a.setPtr(BATCH.inBatch, req.inBatch);
  a.setPtr(BATCH.outBatch, req.outBatch);
  a.setPtr(BATCH.keys, req.keys);
  a.setPtr(BATCH.values, req.values);
  a.setU32(BATCH.count, req.count);
  a.setU32(BATCH.mapFd, fd);
  a.setU64(BATCH.elemFlags, req.elemFlags ?? 0);
  const r = bpfRaw(cmd, a);
  const count = a.u32(BATCH.count);
  if (r >= 0) return { count, done: false };
  if (-r === ENOENT) return { count, done: true };
  throw batchError(cmd, -r, count, req.count, fd);
}

export interface BatchWriteRequest {
  keySize: number;
  /** Bytes per value as the kernel copies it (kernelValueSize). */
  valueSize: number;
  keys: Uint8Array;
  values: Uint8Array;
  count: number;
  /** 0 or BPF_F_LOCK (the kernel refuses BPF_NOEXIST/BPF_EXIST here). */
  elemFlags?: number | bigint;
}

/**
 * BPF_MAP_UPDATE_BATCH: writes `count` elements; returns how many were
 * written. On failure throws BatchError whose `count` says how many were.
 */
export function mapUpdateBatch(fd: number, req: BatchWriteRequest): number {
  checkRoom(req.keys, req.count, req.keySize, "keys");
  checkRoom(req.values, req.count, req.valueSize, "values");
  return writeBatch(BPF_CMD.MAP_UPDATE_BATCH, fd, req.keys, req.values, req.count, req.elemFlags ?? 0);
}

/**
 * mapUpdateBatch on a koffi worker thread: the event loop keeps running, and
 * several calls on one map (disjoint elements) run on several CPUs at once.
 * Each call has its own attr; `keys` and `values` must stay referenced (and
 * unchanged) until the promise settles.
 */
export async function mapUpdateBatchAsync(fd: number, req: BatchWriteRequest): Promise<number> {
  checkRoom(req.keys, req.count, req.keySize, "keys");
  checkRoom(req.values, req.count, req.valueSize, "values");
  const a = new BpfAttr();
  a.setPtr(BATCH.keys, req.keys);
  a.setPtr(BATCH.values, req.values);
  a.setU32(BATCH.count, req.count);
  a.setU32(BATCH.mapFd, fd);
  a.setU64(BATCH.elemFlags, req.elemFlags ?? 0);
  const r = await bpfRawAsync(BPF_CMD.MAP_UPDATE_BATCH, a);
  const done = a.u32(BATCH.count);
  if (r < 0) throw batchError(BPF_CMD.MAP_UPDATE_BATCH, -r, done, req.count, fd);
  return done;
}

/** BPF_MAP_DELETE_BATCH: deletes `count` keys; BatchError (ENOENT) at the first absent one. */
export function mapDeleteBatch(fd: number, keys: Uint8Array, keySize: number, count: number): number {
  checkRoom(keys, count, keySize, "keys");
  return writeBatch(BPF_CMD.MAP_DELETE_BATCH, fd, keys, null, count, 0);
}

function writeBatch(cmd: number, fd: number, keys: Uint8Array, values: Uint8Array | null, count: number, elemFlags: number | bigint): number {
  const a = updateAttr.clear();
  a.setPtr(BATCH.keys, keys);
  a.setPtr(BATCH.values, values);
  a.setU32(BATCH.count, count);
  a.setU32(BATCH.mapFd, fd);
  a.setU64(BATCH.elemFlags, elemFlags);
  const r = bpfRaw(cmd, a);
  const done = a.u32(BATCH.count);
  if (r < 0) throw batchError(cmd, -r, done, count, fd);
  return done;
}

/** `reported` is the count field after the call; equal to `batchSize` it was never written. */
export function batchError(cmd: number, errno: number, reported: number, batchSize: number, fd: number): BatchError {
  const count = reported === batchSize ? 0 : reported;
  const base = { syscall: "bpf", operation: bpfCmdName(cmd), errno, count, detail: `map fd ${fd}` };
  if (errno === ENOSPC && count === 0 && cmd !== BPF_CMD.MAP_UPDATE_BATCH) return new BatchTooSmallError({ ...base, batchSize });
  return new BatchError(base);
}

function checkRoom(buf: Uint8Array, count: number, size: number, what: string): void {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`batch count ${count} is not a non-negative integer`);
  if (buf.byteLength < count * size) {
    throw new RangeError(`${what} buffer holds ${buf.byteLength} bytes, the kernel needs ${count} × ${size}`);
  }
}

/**
 * The kernel has no batch operations for this map: bpf(2) answers ENOTSUPP
 * (kernel-internal 524) or EOPNOTSUPP, and one element at a time is the way.
 */
export function isNoBatchOps(e: unknown): boolean {
  return e instanceof SyscallError && (e.errno === 524 || e.errno === errnoNumber("EOPNOTSUPP"));
}
