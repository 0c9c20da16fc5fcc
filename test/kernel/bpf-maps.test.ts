/**
 * Single-element map commands on real maps of each type crtool must carry:
 * fill, then read back by key and by walking GET_NEXT_KEY.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BPF_EXIST,
  BPF_F_NO_PREALLOC,
  BPF_NOEXIST,
  MAP_TYPE,
  PROG_TYPE,
  RETURN_ZERO_INSNS,
  SyscallError,
  kernelValueSize,
  mapCreate,
  mapDeleteElem,
  mapGetInfo,
  mapGetNextKey,
  mapLookupAndDeleteElem,
  mapLookupElem,
  mapUpdateElem,
  possibleCpus,
  progGetFdById,
  progLoad,
  readFdinfo,
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

/** Every key of a map by GET_NEXT_KEY from a null key. */
function walkKeys(fd: number, keySize: number): Buffer[] {
  const keys: Buffer[] = [];
  let prev: Buffer | null = null;
  for (;;) {
    const next = Buffer.alloc(keySize);
    if (!mapGetNextKey(fd, prev, next)) return keys;
    keys.push(next);
    prev = next;
  }
}

describe.skipIf(!IS_ROOT)("map element commands", () => {
  it("HASH: update flags, lookup, delete, next key", () => {
    const fd = fds.add(mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 128, name: "t_hash" }));
    for (let i = 0; i < 100; i++) mapUpdateElem(fd, u32(i * 7), u64(BigInt(i) << 40n));
    const keys = walkKeys(fd, 4).map((k) => k.readUInt32LE());
    expect(keys.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i * 7));
    const v = Buffer.alloc(8);
    expect(mapLookupElem(fd, u32(7 * 42), v)).toBe(true);
    expect(v.readBigUInt64LE()).toBe(42n << 40n);
    expect(mapLookupElem(fd, u32(1), v)).toBe(false);

    expect(() => mapUpdateElem(fd, u32(0), u64(1), BPF_NOEXIST)).toThrow(expect.objectContaining({ code: "EEXIST" }));
    expect(() => mapUpdateElem(fd, u32(1), u64(1), BPF_EXIST)).toThrow(expect.objectContaining({ code: "ENOENT" }));
    mapUpdateElem(fd, u32(0), u64(99), BPF_EXIST);
    mapLookupElem(fd, u32(0), v);
    expect(v.readBigUInt64LE()).toBe(99n);

    expect(mapDeleteElem(fd, u32(0))).toBe(true);
    expect(mapDeleteElem(fd, u32(0))).toBe(false);
    expect(walkKeys(fd, 4)).toHaveLength(99);
  });

  it("HASH full: E2BIG", () => {
    const fd = fds.add(mapCreate({ mapType: "HASH", keySize: 4, valueSize: 4, maxEntries: 2 }));
    mapUpdateElem(fd, u32(1), u32(1));
    mapUpdateElem(fd, u32(2), u32(2));
    expect(() => mapUpdateElem(fd, u32(3), u32(3))).toThrow(expect.objectContaining({ code: "E2BIG" }));
  });

  it("ARRAY: every index exists; delete is refused", () => {
    const fd = fds.add(mapCreate({ mapType: MAP_TYPE.ARRAY, keySize: 4, valueSize: 8, maxEntries: 8 }));
    mapUpdateElem(fd, u32(3), u64(0xdead_beef_cafen));
    expect(walkKeys(fd, 4).map((k) => k.readUInt32LE())).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const v = Buffer.alloc(8);
    expect(mapLookupElem(fd, u32(3), v)).toBe(true);
    expect(v.readBigUInt64LE()).toBe(0xdead_beef_cafen);
    expect(mapLookupElem(fd, u32(2), v)).toBe(true);
    expect(v.readBigUInt64LE()).toBe(0n);
    expect(mapLookupElem(fd, u32(8), v)).toBe(false);
    expect(() => mapDeleteElem(fd, u32(3))).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  for (const type of ["PERCPU_HASH", "PERCPU_ARRAY"] as const) {
    it(`${type}: one 8-byte-aligned slot per possible CPU`, () => {
      const cpus = possibleCpus();
      const fd = fds.add(mapCreate({ mapType: type, keySize: 4, valueSize: 4, maxEntries: 4 }));
      const size = kernelValueSize(MAP_TYPE[type], 4);
      expect(size).toBe(8 * cpus);
      const value = Buffer.alloc(size);
      for (let c = 0; c < cpus; c++) value.writeUInt32LE(100 + c, 8 * c);
      mapUpdateElem(fd, u32(1), value);
      const out = Buffer.alloc(size);
      expect(mapLookupElem(fd, u32(1), out)).toBe(true);
      for (let c = 0; c < cpus; c++) expect(out.readUInt32LE(8 * c)).toBe(100 + c);
    });
  }

  it("LRU_HASH", () => {
    const fd = fds.add(mapCreate({ mapType: "LRU_HASH", keySize: 4, valueSize: 8, maxEntries: 64 }));
    for (const k of [10, 20, 30, 40]) mapUpdateElem(fd, u32(k), u64(k * 100));
    expect(walkKeys(fd, 4).map((k) => k.readUInt32LE()).sort((a, b) => a - b)).toEqual([10, 20, 30, 40]);
    const v = Buffer.alloc(8);
    expect(mapLookupElem(fd, u32(30), v)).toBe(true);
    expect(v.readBigUInt64LE()).toBe(3000n);
  });

  it("LPM_TRIE: longest prefix match, and walking the prefixes", () => {
    const fd = fds.add(mapCreate({ mapType: "LPM_TRIE", keySize: 8, valueSize: 4, maxEntries: 8, mapFlags: BPF_F_NO_PREALLOC }));
    const prefix = (len: number, ip: number[]) => Buffer.concat([u32(len), Buffer.from(ip)]);
    mapUpdateElem(fd, prefix(8, [10, 0, 0, 0]), u32(1));
    mapUpdateElem(fd, prefix(24, [192, 168, 1, 0]), u32(2));
    const v = Buffer.alloc(4);
    expect(mapLookupElem(fd, prefix(32, [10, 1, 2, 3]), v)).toBe(true);
    expect(v.readUInt32LE()).toBe(1);
    expect(mapLookupElem(fd, prefix(32, [192, 168, 1, 77]), v)).toBe(true);
    expect(v.readUInt32LE()).toBe(2);
    expect(mapLookupElem(fd, prefix(32, [11, 0, 0, 1]), v)).toBe(false);
    const keys = walkKeys(fd, 8).map((k) => `${[...k.subarray(4)].join(".")}/${k.readUInt32LE()}`);
    expect(keys.sort()).toEqual(["10.0.0.0/8", "192.168.1.0/24"]);
  });

  it("QUEUE and STACK: push, peek, pop with a null key", () => {
    for (const [type, order] of [["QUEUE", [0x111, 0x222, 0x333]], ["STACK", [0x333, 0x222, 0x111]]] as const) {
      const fd = fds.add(mapCreate({ mapType: type, keySize: 0, valueSize: 4, maxEntries: 4 }));
      for (const x of [0x111, 0x222, 0x333]) mapUpdateElem(fd, null, u32(x));
      const v = Buffer.alloc(4);
      expect(mapLookupElem(fd, null, v)).toBe(true);
      expect(v.readUInt32LE()).toBe(order[0]);
      const popped: number[] = [];
      while (mapLookupAndDeleteElem(fd, null, v)) popped.push(v.readUInt32LE());
      expect(popped).toEqual(order);
      expect(mapLookupElem(fd, null, v)).toBe(false);
      expect(mapGetInfo(fd).keySize).toBe(0);
    }
  });

  it("HASH_OF_MAPS: an inner map fd goes in, its id comes out", () => {
    const inner = fds.add(mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 1, name: "t_inner" }));
    const outer = fds.add(mapCreate({ mapType: "HASH_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 4, innerMapFd: inner, name: "t_outer" }));
    mapUpdateElem(outer, u32(5), u32(inner));
    const v = Buffer.alloc(4);
    expect(mapLookupElem(outer, u32(5), v)).toBe(true);
    expect(v.readUInt32LE()).toBe(mapGetInfo(inner).id);
  });

  it("PROG_ARRAY: a program fd goes in, its id comes out", () => {
    const prog = fds.add(progLoad({ progType: PROG_TYPE.SOCKET_FILTER, insns: RETURN_ZERO_INSNS, name: "t_ret0" }));
    const pa = fds.add(mapCreate({ mapType: "PROG_ARRAY", keySize: 4, valueSize: 4, maxEntries: 4 }));
    mapUpdateElem(pa, u32(0), u32(prog));
    const v = Buffer.alloc(4);
    expect(mapLookupElem(pa, u32(0), v)).toBe(true);
    const id = v.readUInt32LE();
    expect(readFdinfo("self", prog).bpfProg!.progId).toBe(id);
    const again = fds.add(progGetFdById(id));
    expect(readFdinfo("self", again).bpfProg!.progId).toBe(id);
    expect(mapLookupElem(pa, u32(1), v)).toBe(false);
  });

  it("invalid requests fail with typed errors, and names are checked before the call", () => {
    expect(() => mapCreate({ mapType: "HASH", keySize: 0, valueSize: 8, maxEntries: 1 })).toThrow(SyscallError);
    expect(() => mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 1, name: "sixteen_chars_xx" })).toThrow(TypeError);
    expect(() => mapLookupElem(987654, u32(1), Buffer.alloc(8))).toThrow(expect.objectContaining({ code: "EBADF" }));
  });
});
