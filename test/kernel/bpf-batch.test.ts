/**
 * Batch commands against the kernel's real behaviour: the last LOOKUP_BATCH
 * ends with ENOENT and still returns elements; hash maps answer ENOSPC when
 * a bucket does not fit; tokens are u32 for hashes and keys for arrays.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BPF_F_ZERO_SEED,
  BPF_NOEXIST,
  BatchError,
  BatchTooSmallError,
  MAP_TYPE,
  MapBatchReader,
  batchTokenSize,
  kernelValueSize,
  mapCreate,
  mapGetInfo,
  mapGetNextKey,
  mapLookupBatch,
  mapLookupElem,
  mapUpdateBatch,
  mapUpdateElem,
  possibleCpus,
} from "../../src/kernel/index.js";
import { FdSet, IS_ROOT, countBpfFds, u32, u64 } from "./helpers.js";

const fds = new FdSet();
let bpfFdsBefore = 0;
beforeAll(() => {
  bpfFdsBefore = countBpfFds();
});
afterEach(() => fds.closeAll());
afterAll(() => {
  if (IS_ROOT) expect(countBpfFds()).toBe(bpfFdsBefore);
});

function u32Hash(maxEntries: number, n: number, mapFlags = 0): number {
  const fd = fds.add(mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries, mapFlags }));
  const keys = Buffer.alloc(4 * n);
  const values = Buffer.alloc(8 * n);
  for (let i = 0; i < n; i++) {
    keys.writeUInt32LE(i, 4 * i);
    values.writeBigUInt64LE(BigInt(i) * 1000n + 7n, 8 * i);
  }
  if (n > 0) expect(mapUpdateBatch(fd, { keySize: 4, valueSize: 8, keys, values, count: n })).toBe(n);
  return fd;
}

/** key → value of everything a reader returns, checking no key comes twice. */
function drain(r: MapBatchReader): Map<number, bigint> {
  const out = new Map<number, bigint>();
  while (!r.done) {
    const n = r.next();
    for (let i = 0; i < n; i++) {
      const k = r.keys.readUInt32LE(4 * i);
      expect(out.has(k)).toBe(false);
      out.set(k, r.values.readBigUInt64LE(8 * i));
    }
  }
  return out;
}

describe.skipIf(!IS_ROOT)("batch commands", () => {
  it("the call that reaches the end returns ENOENT with valid elements", () => {
    const fd = u32Hash(1024, 1000);
    const keys = Buffer.alloc(4 * 4096);
    const values = Buffer.alloc(8 * 4096);
    const token = Buffer.alloc(batchTokenSize(4));
    const res = mapLookupBatch(fd, { keySize: 4, valueSize: 8, inBatch: null, outBatch: token, keys, values, count: 4096 });
    expect(res).toEqual({ count: 1000, done: true });
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const k = keys.readUInt32LE(4 * i);
      seen.add(k);
      expect(values.readBigUInt64LE(8 * i)).toBe(BigInt(k) * 1000n + 7n);
    }
    expect(seen.size).toBe(1000);
  });

  it("tokens carry the position across calls (separate in/out buffers)", () => {
    const fd = u32Hash(256, 200);
    const keys = Buffer.alloc(4 * 32);
    const values = Buffer.alloc(8 * 32);
    let inTok: Buffer | null = null;
    let outTok: Buffer = Buffer.alloc(4);
    const seen = new Set<number>();
    let calls = 0;
    for (;;) {
      // 200 keys in 256 buckets: no bucket comes near 32 entries, so no ENOSPC here.
      const res = mapLookupBatch(fd, { keySize: 4, valueSize: 8, inBatch: inTok, outBatch: outTok, keys, values, count: 32 });
      calls++;
      for (let i = 0; i < res.count; i++) seen.add(keys.readUInt32LE(4 * i));
      if (res.done) break;
      const used: Buffer = outTok;
      outTok = inTok ?? Buffer.alloc(4);
      inTok = used;
    }
    expect(seen.size).toBe(200);
    expect(calls).toBeGreaterThan(1);
  });

  it("ENOSPC when a hash bucket does not fit: typed error, then grow and go on", () => {
    // 64 keys in 64 buckets with a fixed seed: some bucket holds two or more.
    const fd = u32Hash(64, 64, BPF_F_ZERO_SEED);
    const r = MapBatchReader.forMap(fd, mapGetInfo(fd), { batchSize: 1 });
    const seen = new Map<number, bigint>();
    let grew = 0;
    while (!r.done) {
      let n: number;
      try {
        n = r.next();
      } catch (e) {
        expect(e).toBeInstanceOf(BatchTooSmallError);
        expect((e as BatchTooSmallError).code).toBe("ENOSPC");
        expect((e as BatchTooSmallError).batchSize).toBe(r.batchSize);
        r.grow();
        grew++;
        continue;
      }
      for (let i = 0; i < n; i++) seen.set(r.keys.readUInt32LE(4 * i), r.values.readBigUInt64LE(8 * i));
    }
    expect(grew).toBeGreaterThan(0);
    expect(seen.size).toBe(64);
    for (const [k, v] of seen) expect(v).toBe(BigInt(k) * 1000n + 7n);

    // autoGrow does the same without the caller's help.
    const auto = MapBatchReader.forMap(fd, mapGetInfo(fd), { batchSize: 1, autoGrow: true });
    expect(drain(auto).size).toBe(64);
    expect(auto.batchSize).toBeGreaterThan(1);
  });

  it("a limit bounds each call, and a bucket larger than the limit drops it instead of failing", () => {
    // 64 keys in 64 buckets with a fixed seed: some bucket holds two or more.
    const fd = u32Hash(64, 64, BPF_F_ZERO_SEED);
    const bounded = MapBatchReader.forMap(fd, mapGetInfo(fd), { batchSize: 128 });
    bounded.limit = 8;
    const seen = new Map<number, bigint>();
    let calls = 0;
    while (!bounded.done) {
      const held = bounded.limit;
      const n = bounded.next();
      calls++;
      if (held !== undefined && bounded.limit !== undefined) expect(n).toBeLessThanOrEqual(held);
      for (let i = 0; i < n; i++) seen.set(bounded.keys.readUInt32LE(4 * i), bounded.values.readBigUInt64LE(8 * i));
    }
    expect(seen.size).toBe(64);
    expect(calls).toBeGreaterThanOrEqual(8);

    const one = MapBatchReader.forMap(fd, mapGetInfo(fd), { batchSize: 128 });
    one.limit = 1;
    const all = drain(one);
    expect(all.size).toBe(64);
    for (const [k, v] of all) expect(v).toBe(BigInt(k) * 1000n + 7n);
    expect(one.limit).toBeUndefined();
    expect(one.batchSize).toBe(128);
  });

  it("an empty map ends at once", () => {
    const fd = u32Hash(16, 0);
    const r = MapBatchReader.forMap(fd, mapGetInfo(fd));
    expect(r.next()).toBe(0);
    expect(r.done).toBe(true);
    expect(r.next()).toBe(0);
  });

  it("ARRAY: key-sized tokens, every index, in order", () => {
    const fd = fds.add(mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 8, maxEntries: 100 }));
    for (let i = 0; i < 100; i += 3) mapUpdateElem(fd, u32(i), u64(i + 1));
    const r = MapBatchReader.forMap(fd, mapGetInfo(fd), { batchSize: 7 });
    const keys: number[] = [];
    while (!r.done) {
      const n = r.next();
      for (let i = 0; i < n; i++) {
        const k = r.keys.readUInt32LE(4 * i);
        keys.push(k);
        expect(r.values.readBigUInt64LE(8 * i)).toBe(k % 3 === 0 ? BigInt(k + 1) : 0n);
      }
    }
    expect(keys).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // reset() starts over.
    r.reset();
    expect(drain(r).size).toBe(100);
  });

  it("PERCPU_HASH: values are per-CPU slots", () => {
    const cpus = possibleCpus();
    const fd = fds.add(mapCreate({ mapType: "PERCPU_HASH", keySize: 4, valueSize: 8, maxEntries: 16 }));
    const vsize = kernelValueSize(MAP_TYPE.PERCPU_HASH, 8);
    for (const k of [1, 2, 3]) {
      const v = Buffer.alloc(vsize);
      for (let c = 0; c < cpus; c++) v.writeBigUInt64LE(BigInt(k * 100 + c), 8 * c);
      mapUpdateElem(fd, u32(k), v);
    }
    const r = MapBatchReader.forMap(fd, mapGetInfo(fd));
    expect(r.valueSize).toBe(8 * cpus);
    const n = r.next();
    expect(r.done).toBe(true);
    expect(n).toBe(3);
    for (let i = 0; i < n; i++) {
      const k = r.keys.readUInt32LE(4 * i);
      const v = r.valueAt(i);
      for (let c = 0; c < cpus; c++) expect(v.readBigUInt64LE(8 * c)).toBe(BigInt(k * 100 + c));
    }
  });

  it("UPDATE_BATCH stops at the first failure and says how far it got", () => {
    const fd = u32Hash(4, 0);
    for (const k of [100, 101, 102]) mapUpdateElem(fd, u32(k), u64(1));
    const keys = Buffer.alloc(4 * 5);
    for (let i = 0; i < 5; i++) keys.writeUInt32LE(i, 4 * i);
    const attempt = (elemFlags = 0) => {
      try {
        mapUpdateBatch(fd, { keySize: 4, valueSize: 8, keys, values: Buffer.alloc(8 * 5), count: 5, elemFlags });
      } catch (e) {
        return e as BatchError;
      }
      throw new Error("expected a failure");
    };
    // Key 0 takes the last free slot; key 1 finds the map full.
    const full = attempt();
    expect(full).toBeInstanceOf(BatchError);
    expect(full.code).toBe("E2BIG");
    expect(full.count).toBe(1);
    const v = Buffer.alloc(8);
    expect(mapLookupElem(fd, u32(0), v)).toBe(true);
    expect(mapLookupElem(fd, u32(1), v)).toBe(false);
    // Refused before any element: the kernel leaves count alone, we report 0.
    const flags = attempt(BPF_NOEXIST);
    expect(flags.code).toBe("EINVAL");
    expect(flags.count).toBe(0);
  });

  it("buffers too small for the count are refused before the kernel writes past them", () => {
    const fd = u32Hash(16, 4);
    expect(() =>
      mapLookupBatch(fd, { keySize: 4, valueSize: 8, inBatch: null, outBatch: Buffer.alloc(4), keys: Buffer.alloc(4 * 8), values: Buffer.alloc(8 * 7), count: 8 }),
    ).toThrow(RangeError);
    expect(() => mapUpdateBatch(fd, { keySize: 4, valueSize: 8, keys: Buffer.alloc(3), values: Buffer.alloc(8), count: 1 })).toThrow(RangeError);
  });

  it("LOOKUP_AND_DELETE_BATCH drains the map", () => {
    const fd = u32Hash(256, 100);
    const r = MapBatchReader.forMap(fd, mapGetInfo(fd), { batchSize: 16, deleting: true, autoGrow: true });
    expect(drain(r).size).toBe(100);
    expect(mapGetNextKey(fd, null, Buffer.alloc(4))).toBe(false);
  });

  it("HASH_OF_MAPS batches return inner map ids", () => {
    const inner = fds.add(mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 1 }));
    const outer = fds.add(mapCreate({ mapType: "HASH_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 8, innerMapFd: inner }));
    mapUpdateElem(outer, u32(1), u32(inner));
    mapUpdateElem(outer, u32(2), u32(inner));
    const r = MapBatchReader.forMap(outer, mapGetInfo(outer));
    const n = r.next();
    expect(n).toBe(2);
    const id = mapGetInfo(inner).id;
    for (let i = 0; i < n; i++) expect(r.values.readUInt32LE(4 * i)).toBe(id);
  });

  it("nextAsync reads the same on a worker thread", async () => {
    const fd = u32Hash(8192, 5000);
    const r = MapBatchReader.forMap(fd, mapGetInfo(fd), { batchSize: 512 });
    const seen = new Set<number>();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      while (!r.done) {
        const n = await r.nextAsync();
        for (let i = 0; i < n; i++) seen.add(r.keys.readUInt32LE(4 * i));
      }
    } finally {
      clearInterval(timer);
    }
    expect(seen.size).toBe(5000);
    await expect(Promise.all([r.nextAsync(), r.nextAsync()])).resolves.toEqual([0, 0]);
  });
});
