/**
 * Restoring BPF map fds: every map type crtool dumps is created in a child
 * process, dumped with the dump code, the child killed, and the maps
 * restored from the images — then checked as CRIU's own BPF tests check a
 * restore: bpf_map_info equal but the id, fdinfo equal but map_id, every
 * element equal (and equal to bpftool's dump of the old map).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import {
  BPF_F_NO_PREALLOC,
  BPF_F_NUMA_NODE,
  F_GETFL,
  O_CLOEXEC,
  O_NONBLOCK,
  btfGetData,
  btfGetFdById,
  close,
  fcntl,
  isErrno,
  mapGetFdById,
  mapDeleteElem,
  mapGetInfo,
  mapLookupAndDeleteElem,
  mapLookupElem,
  mapUpdateElem,
  possibleCpus,
  readFdinfo,
} from "../../src/kernel/index.js";
import type { ImageMessage } from "../../src/images/index.js";
import { NotSupportedError } from "../../src/images/errors.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { verifyRestoredMaps } from "../../src/bpf/restore/verify.js";
import { IS_ROOT, countBpfFds } from "../kernel/helpers.js";
import { HAVE_DIST, TestDump, bpftoolMapDump, bytesHex, startHolder, u32hex, u64hex, type Holder, type MapPlan } from "./harness.js";
import {
  TestRestore,
  capture,
  elementSet,
  fdinfoWithoutId,
  infoWithoutId,
  mapIdsAboveSettled,
  maxMapId,
  removeDir,
  tempDir,
  u32Elements,
  writeSyntheticDump,
  type Captured,
} from "./restore-harness.js";
import { specFromImage } from "../../src/bpf/map-spec-image.js";

const O_RDWR = 2;
const F_GETSIG = 11;
const SIGUSR1 = 10;

const CPUS = possibleCpus();
const roundUp8 = (n: number) => Math.ceil(n / 8) * 8;
const perCpu = (valueSize: number, slot: (cpu: number) => Buffer): string =>
  Buffer.concat(Array.from({ length: CPUS }, (_, c) => Buffer.concat([slot(c), Buffer.alloc(roundUp8(valueSize) - valueSize)]))).toString("hex");
const lpmKey = (len: number, a: number, b: number, c: number, d: number) => Buffer.from([len, 0, 0, 0, a, b, c, d]).toString("hex");

const PLAN: MapPlan[] = [
  {
    name: "hash", type: "HASH", keySize: 4, valueSize: 8, maxEntries: 16,
    elements: [[u32hex(1), u64hex(100)], [u32hex(2), u64hex(200)], [u32hex(42), u64hex(0x0102030405060708n)], [u32hex(0xdeadbeef), u64hex(0xffffffffffffffffn)]],
  },
  // CRIU's own test map: NO_PREALLOC | NUMA_NODE, keys 1..10 → key+1, frozen.
  {
    name: "hash_test_map", type: "HASH", keySize: 4, valueSize: 4, maxEntries: 10, mapFlags: BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE, freeze: true,
    elements: Array.from({ length: 10 }, (_, i): [string, string] => [u32hex(i + 1), u32hex(i + 2)]),
  },
  { name: "array", type: "ARRAY", keySize: 4, valueSize: 8, maxEntries: 4, elements: [[u32hex(1), u64hex(0x1122334455667788n)], [u32hex(3), u64hex(7)]] },
  {
    name: "pcpu_hash", type: "PERCPU_HASH", keySize: 4, valueSize: 4, maxEntries: 8,
    elements: [1, 2, 3].map((k) => [u32hex(k), perCpu(4, (c) => Buffer.from(u32hex(k * 100 + c), "hex"))]),
  },
  {
    name: "pcpu_array", type: "PERCPU_ARRAY", keySize: 4, valueSize: 12, maxEntries: 3,
    elements: [[u32hex(0), perCpu(12, (c) => Buffer.alloc(12, c + 1))], [u32hex(2), perCpu(12, (c) => Buffer.alloc(12, 0xa0 + c))]],
  },
  { name: "lru", type: "LRU_HASH", keySize: 4, valueSize: 8, maxEntries: 16, elements: [10, 20, 30, 40].map((k) => [u32hex(k), u64hex(k * 100)]) },
  {
    name: "lru_pcpu", type: "LRU_PERCPU_HASH", keySize: 4, valueSize: 8, maxEntries: 8,
    elements: [5, 6].map((k) => [u32hex(k), perCpu(8, (c) => Buffer.from(u64hex((BigInt(k) << 32n) | BigInt(c)), "hex"))]),
  },
  {
    name: "lpm", type: "LPM_TRIE", keySize: 8, valueSize: 4, maxEntries: 8, mapFlags: BPF_F_NO_PREALLOC,
    elements: [[lpmKey(8, 10, 0, 0, 0), u32hex(1)], [lpmKey(16, 10, 1, 0, 0), u32hex(2)], [lpmKey(24, 192, 168, 1, 0), u32hex(3)], [lpmKey(32, 10, 1, 2, 3), u32hex(4)]],
  },
  { name: "queue", type: "QUEUE", keySize: 0, valueSize: 4, maxEntries: 8, push: [0x111, 0x222, 0x333].map(u32hex) },
  { name: "stack", type: "STACK", keySize: 0, valueSize: 8, maxEntries: 8, push: [1, 2, 3, 4].map(u64hex) },
  { name: "btf_a", type: "HASH", keySize: 4, valueSize: 8, maxEntries: 8, btf: true, elements: [[u32hex(5), u64hex(55)]] },
  { name: "btf_b", type: "ARRAY", keySize: 4, valueSize: 8, maxEntries: 2, btf: true, elements: [[u32hex(1), u64hex(11)]] },
  { name: "frozen", type: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 2, freeze: true, elements: [[u32hex(0), u32hex(0xcafe)], [u32hex(1), u32hex(0xbeef)]] },
  // fd, a second open file (GET_FD_BY_ID), a read-only one, and a dup of the first.
  { name: "shared", type: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, elements: [[u32hex(7), u32hex(70)], [u32hex(9), u32hex(90)]], extraFds: ["byId", "byIdRdonly", "dup"] },
  { name: "empty", type: "HASH", keySize: 8, valueSize: 8, maxEntries: 4 },
  { name: "in_a", type: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, elements: [[u32hex(1), u32hex(11)]], close: true },
  { name: "in_b", type: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, elements: [[u32hex(2), u32hex(22)]] },
  { name: "hom", type: "HASH_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 8, inner: "in_a", innerElements: [[u32hex(1), "in_a"], [u32hex(2), "in_b"], [u32hex(3), "in_a"]] },
  { name: "aom", type: "ARRAY_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 8, inner: "in_a", innerElements: [[u32hex(5), "in_a"], [u32hex(6), "in_b"]] },
];

/** Map names whose fds the test restores (the inner-only in_a has none). */
const WITH_FDS = PLAN.filter((p) => !p.close).map((p) => p.name);
const planOf = (name: string) => PLAN.find((p) => p.name === name)!;

describe.skipIf(!IS_ROOT || !HAVE_DIST)("restoring BPF map fds", () => {
  let holder: Holder;
  let dump: TestDump;
  let restore: TestRestore;
  let files: ImageMessage[];
  let bpfFdsBefore = 0;
  let idsBefore = 0;
  const before = new Map<string, Captured>();
  /** file id of each [map name, fd index], and the restored fd of each file id. */
  const fileIdOf = new Map<string, number>();
  const restoredFd = new Map<number, number>();
  /** Old map id → new, for every restored map. */
  const newIdOf = new Map<number, number>();

  const fdOf = (name: string, fdIndex = 0) => restoredFd.get(fileIdOf.get(`${name}/${fdIndex}`)!)!;
  const newId = (name: string) => newIdOf.get(holder.maps[name].id)!;

  beforeAll(async () => {
    bpfFdsBefore = countBpfFds();
    holder = await startHolder(PLAN);
    for (const p of PLAN) before.set(p.name, capture(holder, p.name));
    dump = new TestDump();
    for (const name of WITH_FDS) {
      const fds = holder.maps[name].fds;
      for (let i = 0; i < fds.length; i++) fileIdOf.set(`${name}/${i}`, await dump.dumpFd(holder.pid, fds[i]));
    }
    ({ files } = await dump.finish());
    await holder.stop();
    idsBefore = maxMapId();

    restore = new TestRestore(dump.dir);
    for (const fileId of new Set(fileIdOf.values())) restoredFd.set(fileId, await restore.restoreFile(fileId));
    for (const m of (await restore.session()).maps) newIdOf.set(m.oldId, m.newId);
  });

  afterAll(async () => {
    await holder?.stop();
    await restore?.finish();
    dump?.cleanup();
    if (dump) removeDir(dump.dir);
    expect(await mapIdsAboveSettled(idsBefore), "maps left behind").toEqual([]);
    expect(countBpfFds()).toBe(bpfFdsBefore);
  });

  it("creates one new map per recorded map, inner maps included", async () => {
    const maps = (await restore.session()).maps;
    expect(maps.map((m) => m.oldId).sort()).toEqual(PLAN.map((p) => holder.maps[p.name].id).sort());
    for (const m of maps) expect(m.newId).not.toBe(m.oldId);
    // Inner maps come before the map-in-maps that hold them.
    const pos = (name: string) => maps.findIndex((m) => m.oldId === holder.maps[name].id);
    expect(pos("in_a")).toBeLessThan(pos("hom"));
    expect(pos("in_b")).toBeLessThan(pos("hom"));
  });

  it("gives each map the bpf_map_info it had, but the id", () => {
    for (const name of WITH_FDS) {
      const info = mapGetInfo(fdOf(name));
      expect(info.id, name).toBe(newId(name));
      expect(infoWithoutId(info), name).toEqual(infoWithoutId(before.get(name)!.info));
    }
  });

  it("gives each open file the fdinfo it had, but map_id (memlock and frozen included)", () => {
    for (const name of WITH_FDS) {
      holder.maps[name].fds.forEach((_, i) => {
        const was = before.get(name)!.fdinfo[i];
        const now = readFileSync(`/proc/self/fdinfo/${fdOf(name, i)}`, "utf8");
        expect(fdinfoWithoutId(now, { flags: false }), `${name}/${i}`).toEqual(fdinfoWithoutId(was, { flags: false }));
        // FD_CLOEXEC belongs to the fd (the orchestrator sets it); the open file's flags must match.
        const flags = (t: string) => parseInt(/^flags:\s*(\d+)/m.exec(t)![1], 8) & ~O_CLOEXEC;
        expect(flags(now), `${name}/${i} flags`).toBe(flags(was));
      });
    }
  });

  it("restores every element: bpftool sees the same contents in the new maps", (ctx) => {
    for (const name of WITH_FDS) {
      const p = planOf(name);
      if (p.type === "QUEUE" || p.type === "STACK" || p.type.endsWith("OF_MAPS")) continue;
      const was = before.get(name)!.dump;
      const now = bpftoolMapDump(newId(name));
      if (!was || !now) return ctx.skip();
      expect(elementSet(now), name).toEqual(elementSet(was));
      expect(now.length, name).toBe(p.type.includes("ARRAY") ? p.maxEntries : p.elements?.length ?? 0);
    }
  });

  it("puts per-CPU values back on the same CPUs", () => {
    for (const name of ["pcpu_hash", "pcpu_array", "lru_pcpu"]) {
      const p = planOf(name);
      const stride = roundUp8(p.valueSize) * CPUS;
      for (const [k, v] of p.elements!) {
        const got = Buffer.alloc(stride);
        expect(mapLookupElem(fdOf(name), Buffer.from(k, "hex"), got), `${name} ${k}`).toBe(true);
        expect(got.toString("hex"), `${name} ${k}`).toBe(v);
      }
    }
  });

  it("restores map-in-maps with their values pointing at the new inner maps", () => {
    const value = (name: string, key: number) => {
      const v = Buffer.alloc(4);
      expect(mapLookupElem(fdOf(name), Buffer.from(u32hex(key), "hex"), v)).toBe(true);
      return v.readUInt32LE();
    };
    expect([value("hom", 1), value("hom", 2), value("hom", 3)]).toEqual([newId("in_a"), newId("in_b"), newId("in_a")]);
    expect([value("aom", 5), value("aom", 6)]).toEqual([newId("in_a"), newId("in_b")]);
    // in_a had no fd: it lives on through the outer maps, with its contents.
    const fd = mapGetFdById(newId("in_a"));
    try {
      const v = Buffer.alloc(4);
      expect(mapLookupElem(fd, Buffer.from(u32hex(1), "hex"), v)).toBe(true);
      expect(v.readUInt32LE()).toBe(11);
      expect(mapGetInfo(fd).name).toBe("in_a");
    } finally {
      close(fd);
    }
    // bpftool agrees: the old inner map ids, each replaced by its new map's id.
    for (const name of ["hom", "aom"]) {
      const was = before.get(name)!.dump;
      const now = bpftoolMapDump(newId(name));
      if (!was || !now) continue;
      const remapped = was.map((e) => {
        const old = Buffer.from(bytesHex(e.value!), "hex").readUInt32LE();
        return { key: e.key, value: [...Buffer.from(u32hex(newIdOf.get(old)!), "hex")].map((b) => `0x${b.toString(16).padStart(2, "0")}`) };
      });
      expect(elementSet(now), name).toEqual(elementSet(remapped));
    }
    // Empty slots of the ARRAY_OF_MAPS stay empty.
    expect(mapLookupElem(fdOf("aom"), Buffer.from(u32hex(0), "hex"), Buffer.alloc(4))).toBe(false);
  });

  it("makes one map for the open files that shared one, each with its recorded access mode", () => {
    const ids = [0, 1, 2, 3].map((i) => fileIdOf.get(`shared/${i}`)!);
    expect(new Set(ids).size).toBe(3);
    const fds = [0, 1, 2].map((i) => fdOf("shared", i));
    expect(new Set(fds).size).toBe(3);
    for (const fd of fds) expect(mapGetInfo(fd).id).toBe(newId("shared"));
    // An update through one file is seen through the others: one map.
    mapUpdateElem(fds[1], Buffer.from(u32hex(8), "hex"), Buffer.from(u32hex(80), "hex"));
    const v = Buffer.alloc(4);
    expect(mapLookupElem(fds[2], Buffer.from(u32hex(8), "hex"), v)).toBe(true);
    expect(v.readUInt32LE()).toBe(80);
    expect(mapLookupElem(fds[0], Buffer.from(u32hex(8), "hex"), v)).toBe(true);
    expect(mapDeleteElem(fds[0], Buffer.from(u32hex(8), "hex"))).toBe(true);
  });

  it("reopens a read-only open file read-only: fdinfo says O_RDONLY and updates fail with EPERM", () => {
    const fd = fdOf("shared", 2);
    expect(readFdinfo("self", fd).flags & 3).toBe(0);
    expect(() => mapUpdateElem(fd, Buffer.from(u32hex(7), "hex"), Buffer.from(u32hex(1), "hex"))).toThrow(expect.objectContaining({ code: "EPERM" }));
    const v = Buffer.alloc(4);
    expect(mapLookupElem(fd, Buffer.from(u32hex(9), "hex"), v)).toBe(true);
    expect(v.readUInt32LE()).toBe(90);
  });

  it("freezes maps that were frozen, after loading them", () => {
    for (const name of ["frozen", "hash_test_map"]) {
      expect(readFdinfo("self", fdOf(name)).bpfMap!.frozen, name).toBe(true);
      let err: unknown;
      try {
        mapUpdateElem(fdOf(name), Buffer.from(u32hex(1), "hex"), Buffer.alloc(planOf(name).valueSize));
      } catch (e) {
        err = e;
      }
      expect(isErrno(err, "EPERM"), name).toBe(true);
    }
    expect(readFdinfo("self", fdOf("array")).bpfMap!.frozen).toBe(false);
    // CRIU's check: every value still key+1.
    for (let k = 1; k <= 10; k++) {
      const v = Buffer.alloc(4);
      expect(mapLookupElem(fdOf("hash_test_map"), Buffer.from(u32hex(k), "hex"), v)).toBe(true);
      expect(v.readUInt32LE()).toBe(k + 1);
    }
  });

  it("loads the BTF once per BTF id and gives the maps the same key and value types", () => {
    const a = mapGetInfo(fdOf("btf_a"));
    const b = mapGetInfo(fdOf("btf_b"));
    expect(a.btfId).toBeGreaterThan(0);
    expect(b.btfId).toBe(a.btfId);
    expect(a.btfId).not.toBe(before.get("btf_a")!.info.btfId);
    expect([a.btfKeyTypeId, a.btfValueTypeId]).toEqual([1, 2]);
    const rec = files.find((f) => (f.bpf as ImageMessage | undefined)?.map_id === holder.maps.btf_a.id)!.bpf as ImageMessage;
    const fd = btfGetFdById(a.btfId);
    try {
      expect(Buffer.from(btfGetData(fd)).equals(Buffer.from(specFromImage(rec).btf!.data!))).toBe(true);
    } finally {
      close(fd);
    }
  });

  it("finds no difference with --verify", async () => {
    expect(await verifyRestoredMaps(restore.ctx)).toEqual([]);
  });

  it("--verify names what differs", async () => {
    // Change the restored maps behind restore's back, then check again.
    mapUpdateElem(fdOf("hash"), Buffer.from(u32hex(2), "hex"), Buffer.from(u64hex(201), "hex"));
    mapUpdateElem(fdOf("hash"), Buffer.from(u32hex(77), "hex"), Buffer.from(u64hex(1), "hex"));
    const pcpu = Buffer.from(planOf("pcpu_array").elements![1][1], "hex");
    pcpu[0] ^= 0xff;
    mapUpdateElem(fdOf("pcpu_array"), Buffer.from(u32hex(2), "hex"), pcpu);
    const diffs = await verifyRestoredMaps(restore.ctx);
    const oldHash = holder.maps.hash.id;
    expect(diffs).toEqual(
      expect.arrayContaining([
        `BPF map "hash" (id ${oldHash} at dump time, HASH), now map ${newId("hash")}: key 02000000: value c900000000000000, the image has c800000000000000`,
        `BPF map "hash" (id ${oldHash} at dump time, HASH), now map ${newId("hash")}: holds 5 elements, the image 4`,
        expect.stringMatching(/"pcpu_array".*key 02000000: CPU 0 value 5fa0a0a0a0a0a0a0a0a0a0a0, the image has a0a0a0a0a0a0a0a0a0a0a0a0/),
      ]),
    );
    expect(diffs).toHaveLength(3);
  });

  it("keeps QUEUE and STACK order: the oldest element pops first from the queue, the newest from the stack", () => {
    const popAll = (fd: number, size: number): string[] => {
      const out: string[] = [];
      for (let v = Buffer.alloc(size); mapLookupAndDeleteElem(fd, null, v); v = Buffer.alloc(size)) out.push(v.toString("hex"));
      return out;
    };
    expect(popAll(fdOf("queue"), 4)).toEqual(planOf("queue").push);
    expect(popAll(fdOf("stack"), 8)).toEqual([...planOf("stack").push!].reverse());
  });

  it("restores the open file's signal and O_NONBLOCK, and its SIGIO owner only if that process still exists", async () => {
    const dead = spawnSync("true").pid!;
    const spec = new MapSpec({ mapType: 1, keySize: 4, valueSize: 4, maxEntries: 2, mapFlags: 0, name: "owned", mapId: 900 });
    const dir = tempDir("crtool-bpf-restore-");
    try {
      writeSyntheticDump(dir, [
        { spec, contents: u32Elements([], 4), flags: O_RDWR | O_NONBLOCK, fown: { uid: 0, euid: 0, signum: SIGUSR1, pid_type: 0, pid: 0 } },
        { spec: spec.with({ mapId: 901 }), contents: u32Elements([], 4), fown: { uid: 0, euid: 0, signum: SIGUSR1, pid_type: 1, pid: dead } },
      ]);
      const r = new TestRestore(dir);
      const fd = await r.restoreFile(1);
      expect(fcntl(fd, F_GETSIG)).toBe(SIGUSR1);
      expect(fcntl(fd, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
      await expect(r.restoreFile(2)).rejects.toThrow(new RegExp(`file 2 \\(BPFMAP\\): its SIGIO owner, process ${dead}, no longer exists`));
      r.rollback();
      const lenient = new TestRestore(dir, { skipUnsupported: true });
      expect(fcntl(await lenient.restoreFile(2), F_GETSIG)).toBe(SIGUSR1);
      await lenient.finish();
    } finally {
      removeDir(dir);
    }
  });

  it("refuses an empty map-in-map whose inner map template is unknown, and takes one from the options", async () => {
    const h = await startHolder([
      { name: "tmpl", type: "HASH", keySize: 4, valueSize: 4, maxEntries: 2, close: true },
      { name: "aom_empty", type: "ARRAY_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 4, inner: "tmpl" },
    ]);
    const d = new TestDump();
    try {
      const fileId = await d.dumpFd(h.pid, h.maps.aom_empty.fds[0]);
      await d.finish();
      await h.stop();
      const r = new TestRestore(d.dir);
      await expect(r.restoreFile(fileId)).rejects.toThrow(NotSupportedError);
      await expect(r.restoreFile(fileId)).rejects.toThrow(/was empty when dumped, so the image has no template of its inner maps/);
      r.rollback();
      const template = new MapSpec({ mapType: 1, keySize: 4, valueSize: 4, maxEntries: 2, mapFlags: 0, name: "tmpl" });
      const r2 = new TestRestore(d.dir, { innerTemplate: () => template });
      const fd = await r2.restoreFile(fileId);
      expect(mapGetInfo(fd)).toMatchObject({ type: 12, maxEntries: 4, name: "aom_empty" });
      await r2.finish();
    } finally {
      await h.stop();
      d.cleanup();
    }
  });
});
