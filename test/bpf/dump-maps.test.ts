/**
 * Dumping BPF map fds of a live process with the BPFMAP fd kind: every
 * dumpable map type, held by a child process, checked against the child's
 * fdinfo, bpftool's view of the maps, and both crits.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import {
  BPF_F_NO_PREALLOC,
  O_CLOEXEC,
  btfGetData,
  btfGetFdById,
  close,
  mapGetFdById,
  mapLookupAndDeleteElem,
  possibleCpus,
  readFdinfo,
} from "../../src/kernel/index.js";
import { UNKNOWN_FIELDS, type ImageMessage } from "../../src/images/index.js";
import { getExtFields } from "../../src/images/ext-fields.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { IS_ROOT, bpftoolMapShow } from "../kernel/helpers.js";
import {
  CRTOOL_CRIT,
  DEBIAN_CRIT,
  HAVE_DEBIAN_CRIT,
  HAVE_DIST,
  TestDump,
  bpftoolMapDump,
  bytesHex,
  elementsOf,
  runCrit,
  startHolder,
  u32hex,
  u64hex,
  type DecodedEntry,
  type Holder,
  type MapPlan,
} from "./harness.js";
import { specFromImage } from "../../src/bpf/map-spec-image.js";

const CPUS = possibleCpus();
const roundUp8 = (n: number) => Math.ceil(n / 8) * 8;

/** A per-CPU value: `slot(cpu)` (valueSize bytes) for each possible CPU, each padded to 8 bytes. */
function perCpu(valueSize: number, slot: (cpu: number) => Buffer): string {
  return Buffer.concat(Array.from({ length: CPUS }, (_, c) => Buffer.concat([slot(c), Buffer.alloc(roundUp8(valueSize) - valueSize)]))).toString("hex");
}

const lpmKey = (len: number, a: number, b: number, c: number, d: number) => Buffer.from([len, 0, 0, 0, a, b, c, d]).toString("hex");

const PLAN: MapPlan[] = [
  {
    name: "hash", type: "HASH", keySize: 4, valueSize: 8, maxEntries: 16, fown: true,
    elements: [[u32hex(1), u64hex(100)], [u32hex(2), u64hex(200)], [u32hex(3), u64hex(300)], [u32hex(42), u64hex(0x0102030405060708n)], [u32hex(0xdeadbeef), u64hex(0xffffffffffffffffn)]],
  },
  { name: "lru", type: "LRU_HASH", keySize: 4, valueSize: 8, maxEntries: 16, elements: [10, 20, 30, 40].map((k) => [u32hex(k), u64hex(k * 100)]) },
  {
    name: "pcpu_hash", type: "PERCPU_HASH", keySize: 4, valueSize: 4, maxEntries: 8,
    elements: [1, 2, 3].map((k) => [u32hex(k), perCpu(4, (c) => Buffer.from(u32hex(k * 100 + c), "hex"))]),
  },
  {
    name: "lru_pcpu", type: "LRU_PERCPU_HASH", keySize: 4, valueSize: 8, maxEntries: 8,
    elements: [5, 6].map((k) => [u32hex(k), perCpu(8, (c) => Buffer.from(u64hex(BigInt(k) << 32n | BigInt(c)), "hex"))]),
  },
  { name: "array", type: "ARRAY", keySize: 4, valueSize: 8, maxEntries: 4, elements: [[u32hex(1), u64hex(0x1122334455667788n)], [u32hex(3), u64hex(7)]] },
  {
    name: "pcpu_array", type: "PERCPU_ARRAY", keySize: 4, valueSize: 12, maxEntries: 3,
    elements: [[u32hex(0), perCpu(12, (c) => Buffer.alloc(12, c + 1))], [u32hex(2), perCpu(12, (c) => Buffer.alloc(12, 0xa0 + c))]],
  },
  {
    name: "lpm", type: "LPM_TRIE", keySize: 8, valueSize: 4, maxEntries: 8, mapFlags: BPF_F_NO_PREALLOC,
    elements: [[lpmKey(8, 10, 0, 0, 0), u32hex(1)], [lpmKey(16, 10, 1, 0, 0), u32hex(2)], [lpmKey(24, 192, 168, 1, 0), u32hex(3)]],
  },
  { name: "queue", type: "QUEUE", keySize: 0, valueSize: 4, maxEntries: 8, push: [0x111, 0x222, 0x333].map(u32hex) },
  { name: "stack", type: "STACK", keySize: 0, valueSize: 8, maxEntries: 8, push: [1, 2, 3, 4].map(u64hex) },
  { name: "btf_a", type: "HASH", keySize: 4, valueSize: 8, maxEntries: 8, btf: true, elements: [[u32hex(5), u64hex(55)]] },
  { name: "btf_b", type: "ARRAY", keySize: 4, valueSize: 8, maxEntries: 2, btf: true, elements: [[u32hex(1), u64hex(11)]] },
  { name: "frozen", type: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 2, freeze: true, elements: [[u32hex(0), u32hex(0xcafe)], [u32hex(1), u32hex(0xbeef)]] },
  { name: "shared", type: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, elements: [[u32hex(7), u32hex(70)], [u32hex(9), u32hex(90)]], extraFds: ["byId", "byIdRdonly", "dup"] },
  { name: "empty", type: "HASH", keySize: 8, valueSize: 8, maxEntries: 4 },
  { name: "in_a", type: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, elements: [[u32hex(1), u32hex(11)]], close: true },
  { name: "in_b", type: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, elements: [[u32hex(2), u32hex(22)]] },
  { name: "hom", type: "HASH_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 8, inner: "in_a", innerElements: [[u32hex(1), "in_a"], [u32hex(2), "in_b"], [u32hex(3), "in_a"]] },
  { name: "aom", type: "ARRAY_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 8, inner: "in_a", innerElements: [[u32hex(5), "in_a"]] },
  { name: "aom_empty", type: "ARRAY_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 4, inner: "in_a" },
];

const planOf = (name: string) => PLAN.find((p) => p.name === name)!;
const strideOf = (p: MapPlan) => (/PERCPU/.test(p.type) ? roundUp8(p.valueSize) * CPUS : p.valueSize);

type BpfEntry = ImageMessage & { id: number; map_id: number; flags: number; map_type: number };

describe.skipIf(!IS_ROOT || !HAVE_DIST)("dumping BPF map fds", () => {
  let holder: Holder;
  let dump: TestDump;
  let files: ImageMessage[];
  let data: DecodedEntry[];
  /** file id of each [map name, fd index]. */
  const fileIdOf = new Map<string, number>();
  const fdinfoText = new Map<string, string>();

  beforeAll(async () => {
    holder = await startHolder(PLAN);
    dump = new TestDump();
    for (const p of PLAN) {
      holder.maps[p.name].fds.forEach((fd, i) => fdinfoText.set(`${p.name}/${i}`, readFileSync(`/proc/${holder.pid}/fdinfo/${fd}`, "utf8")));
    }
    for (const p of PLAN) {
      const fds = holder.maps[p.name].fds;
      for (let i = 0; i < fds.length; i++) fileIdOf.set(`${p.name}/${i}`, await dump.dumpFd(holder.pid, fds[i]));
    }
    ({ files, data } = await dump.finish());
  });

  afterAll(async () => {
    await holder?.stop();
    dump?.cleanup();
  });

  const bpfEntries = (): BpfEntry[] => files.filter((f) => f.type === 19).map((f) => f.bpf as BpfEntry);
  const entryOf = (name: string, fdIndex = 0): BpfEntry => {
    const id = fileIdOf.get(`${name}/${fdIndex}`)!;
    const f = files.find((e) => e.id === id)!;
    expect(f.type).toBe(19);
    return f.bpf as BpfEntry;
  };
  const dataOf = (mapId: number): DecodedEntry[] => data.filter((d) => d.message.map_id === mapId);
  /** The first record of a map, whether an fd's or an inner map's own. */
  const recordOf = (name: string): BpfEntry => bpfEntries().find((e) => e.map_id === holder.maps[name].id)!;

  it("writes one file entry per open file whose fields match the holder's fdinfo", () => {
    for (const p of PLAN) {
      holder.maps[p.name].fds.forEach((fd, i) => {
        const e = entryOf(p.name, i);
        const fi = readFdinfo(holder.pid, fd);
        const m = fi.bpfMap!;
        expect(readFileSync(`/proc/${holder.pid}/fdinfo/${fd}`, "utf8"), "fdinfo changed during the dump").toBe(fdinfoText.get(`${p.name}/${i}`));
        expect(e).toMatchObject({
          id: fileIdOf.get(`${p.name}/${i}`),
          flags: fi.flags & ~O_CLOEXEC,
          pos: fi.pos,
          map_type: m.mapType,
          key_size: m.keySize,
          value_size: m.valueSize,
          map_id: m.mapId,
          max_entries: m.maxEntries,
          map_flags: m.mapFlags,
          memlock: BigInt(m.memlock),
          frozen: m.frozen,
          mnt_id: fi.mntId,
          ifindex: 0,
        });
        expect(e.map_extra).toBeUndefined();
        expect(e.map_id).toBe(holder.maps[p.name].id);
      });
    }
  });

  it("agrees with bpftool map show", (ctx) => {
    for (const p of PLAN) {
      const show = bpftoolMapShow(holder.maps[p.name].id);
      if (!show) return ctx.skip();
      const e = recordOf(p.name);
      expect(show.type).toBe(p.type.toLowerCase());
      expect(e.map_name).toBe(show.name ?? "");
      expect(e.map_name).toBe(p.name);
      expect(e).toMatchObject({ key_size: show.bytes_key, value_size: show.bytes_value, max_entries: show.max_entries, map_flags: show.flags, frozen: show.frozen === 1 });
      expect(getExtFields("bpfmap_file_entry", e).btf_id ?? 0).toBe(show.btf_id ?? 0);
    }
  });

  it("records the fown set with F_SETOWN/F_SETSIG", () => {
    expect(entryOf("hash").fown).toEqual({ uid: 0, euid: 0, signum: 10, pid_type: 1, pid: holder.pid });
    expect(entryOf("lru").fown).toEqual({ uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 });
  });

  it("writes each map's contents once, matching bpftool map dump", (ctx) => {
    const dumpable = PLAN.filter((p) => p.type !== "QUEUE" && p.type !== "STACK");
    for (const p of dumpable) {
      const id = holder.maps[p.name].id;
      const entries = dataOf(id);
      expect(entries, p.name).toHaveLength(1);
      const ours = elementsOf(entries[0], p.keySize, strideOf(p));
      expect(entries[0].message).toMatchObject({ keys_bytes: ours.length * p.keySize, values_bytes: ours.length * strideOf(p), count: ours.length });
      const theirs = bpftoolMapDump(id);
      if (!theirs) return ctx.skip();
      // Compare as sets: hash order is the kernel's bucket order. Per-CPU: each CPU's value_size bytes.
      const ourSet = ours.map(([k, v]) =>
        /PERCPU/.test(p.type)
          ? `${k}=${Array.from({ length: CPUS }, (_, c) => v.slice(c * 2 * roundUp8(p.valueSize), c * 2 * roundUp8(p.valueSize) + 2 * p.valueSize)).join("/")}`
          : `${k}=${v}`,
      );
      const theirSet = theirs.map((t) => `${bytesHex(t.key!)}=${t.values ? t.values.map((c) => bytesHex(c.value)).join("/") : bytesHex(t.value!)}`);
      expect(ourSet.sort(), p.name).toEqual(theirSet.sort());
    }
  });

  it("dumps arrays at every index, zero values included, and hashes as filled", () => {
    const arr = elementsOf(dataOf(holder.maps.array.id)[0], 4, 8);
    expect(arr).toEqual([[u32hex(0), u64hex(0)], [u32hex(1), u64hex(0x1122334455667788n)], [u32hex(2), u64hex(0)], [u32hex(3), u64hex(7)]]);
    for (const name of ["hash", "lru", "pcpu_hash", "lru_pcpu", "lpm", "btf_a"]) {
      const p = planOf(name);
      expect(elementsOf(dataOf(holder.maps[name].id)[0], p.keySize, strideOf(p)).sort(), name).toEqual([...p.elements!].sort());
    }
    const empty = dataOf(holder.maps.empty.id)[0];
    expect(empty.message).toMatchObject({ keys_bytes: 0, values_bytes: 0, count: 0 });
  });

  it("records the possible-CPU count of per-CPU maps (file and data entries)", () => {
    for (const p of PLAN) {
      const perCpuType = /PERCPU/.test(p.type);
      const fileExt = getExtFields("bpfmap_file_entry", recordOf(p.name));
      const dataExt = getExtFields("bpfmap_data_entry", dataOf(holder.maps[p.name].id)[0].message);
      expect(fileExt.possible_cpus, p.name).toBe(perCpuType ? CPUS : undefined);
      expect(dataExt.possible_cpus, p.name).toBe(perCpuType ? CPUS : undefined);
    }
    expect(specFromImage(entryOf("pcpu_array")).valueStride).toBe(16 * CPUS);
  });

  it("records QUEUE and STACK values oldest first and leaves both maps exactly as they were", () => {
    const q = dataOf(holder.maps.queue.id)[0];
    expect(q.message).toMatchObject({ keys_bytes: 0, values_bytes: 12, count: 3 });
    expect(elementsOf(q, 0, 4).map(([, v]) => v)).toEqual(planOf("queue").push);
    const s = dataOf(holder.maps.stack.id)[0];
    expect(elementsOf(s, 0, 8).map(([, v]) => v)).toEqual(planOf("stack").push);

    // What the maps hold now, popped through a fresh fd: the queue oldest first, the stack newest first.
    const popAll = (id: number, size: number): string[] => {
      const fd = mapGetFdById(id);
      try {
        const out: string[] = [];
        for (let v = Buffer.alloc(size); mapLookupAndDeleteElem(fd, null, v); v = Buffer.alloc(size)) out.push(v.toString("hex"));
        return out;
      } finally {
        close(fd);
      }
    };
    expect(popAll(holder.maps.queue.id, 4)).toEqual(planOf("queue").push);
    expect(popAll(holder.maps.stack.id, 8)).toEqual([...planOf("stack").push!].reverse());
  });

  it("gives each open file of one map its own entry (same map_id) and writes the contents once", () => {
    const ids = [0, 1, 2, 3].map((i) => fileIdOf.get(`shared/${i}`));
    // fd, BPF_MAP_GET_FD_BY_ID, the same read-only, dup(fd): the dup shares the first file.
    expect(new Set(ids).size).toBe(3);
    expect(ids[3]).toBe(ids[0]);
    const entries = bpfEntries().filter((e) => e.map_id === holder.maps.shared.id);
    expect(entries).toHaveLength(3);
    expect(entries.map((e) => e.flags)).toEqual([2, 2, 0]);
    expect(dataOf(holder.maps.shared.id)).toHaveLength(1);
  });

  it("dumps the inner maps of map-in-maps once each, with the outer values left as inner map ids", () => {
    const { in_a, in_b, hom, aom, aom_empty } = holder.maps;
    const homValues = elementsOf(dataOf(hom.id)[0], 4, 4).map(([k, v]) => [k, Buffer.from(v, "hex").readUInt32LE()]);
    expect(homValues.sort()).toEqual([[u32hex(1), in_a.id], [u32hex(2), in_b.id], [u32hex(3), in_a.id]].sort());
    expect(elementsOf(dataOf(aom.id)[0], 4, 4)).toEqual([[u32hex(5), u32hex(in_a.id)]]);
    expect(dataOf(aom_empty.id)[0].message.count).toBe(0);

    // in_a is held by no fd: one record of its own, marked with the outer map; in_b has its fd's.
    const recA = bpfEntries().filter((e) => e.map_id === in_a.id);
    expect(recA).toHaveLength(1);
    expect(getExtFields("bpfmap_file_entry", recA[0]).inner_of_map_id).toBe(hom.id);
    expect(recA[0]).toMatchObject({ flags: 2, map_type: 1, key_size: 4, value_size: 4, max_entries: 4, map_name: "in_a" });
    expect(bpfEntries().filter((e) => e.map_id === in_b.id)).toHaveLength(1);
    expect(getExtFields("bpfmap_file_entry", entryOf("in_b")).inner_of_map_id).toBeUndefined();
    expect(dataOf(in_a.id)).toHaveLength(1);
    expect(dataOf(in_b.id)).toHaveLength(1);
    expect(elementsOf(dataOf(in_a.id)[0], 4, 4)).toEqual(planOf("in_a").elements);
    expect(new Set(files.map((f) => f.id)).size).toBe(files.length);

    // The inner map template: the first inner map's shape; none for an empty outer map.
    const homSpec = specFromImage(entryOf("hom"));
    expect(homSpec.inner).toMatchObject({ mapType: 1, keySize: 4, valueSize: 4, maxEntries: 4, mapFlags: 0 });
    expect([in_a.id, in_b.id]).toContain(homSpec.inner!.mapId);
    expect(specFromImage(entryOf("aom")).inner).toMatchObject({ mapType: 1, mapId: in_a.id, name: "in_a" });
    expect(specFromImage(entryOf("aom_empty")).inner).toBeUndefined();
  });

  it("stores a BTF blob once per BTF id, on the first record using it", () => {
    const a = getExtFields("bpfmap_file_entry", entryOf("btf_a"));
    const b = getExtFields("bpfmap_file_entry", entryOf("btf_b"));
    expect(a.btf_id).toBeGreaterThan(0);
    expect(b.btf_id).toBe(a.btf_id);
    expect(a).toMatchObject({ btf_key_type_id: 1, btf_value_type_id: 2 });
    const fd = btfGetFdById(a.btf_id!);
    try {
      expect(Buffer.from(a.btf_data!).equals(Buffer.from(btfGetData(fd)))).toBe(true);
    } finally {
      close(fd);
    }
    expect(b.btf_data).toBeUndefined();
    expect(getExtFields("bpfmap_file_entry", entryOf("hash")).btf_id).toBeUndefined();
    const spec = specFromImage(entryOf("btf_a"));
    expect(spec.btf).toMatchObject({ id: a.btf_id, keyTypeId: 1, valueTypeId: 2 });
    expect(spec.toCreateOptions()).toMatchObject({ mapType: 1, keySize: 4, valueSize: 8, maxEntries: 8, name: "btf_a", btfKeyTypeId: 1, btfValueTypeId: 2 });
  });

  it("counts maps, elements and bytes in the stats", () => {
    expect(dump.stats.maps).toBe(PLAN.length);
    expect(dump.stats.mapEntries).toBe(data.reduce((n, d) => n + (d.message.count as number), 0));
    expect(dump.stats.mapBytes).toBe(data.reduce((n, d) => n + (d.message.keys_bytes as number) + (d.message.values_bytes as number), 0));
    expect(dump.stats.skipped).toEqual([]);
  });

  it("writes images that crtool's crit decodes (extension fields under $unknown) and encodes back byte for byte", () => {
    for (const name of ["files.img", "bpfmap-data.img"]) {
      const path = join(dump.dir, name);
      const r = runCrit(CRTOOL_CRIT, path);
      expect(r.status, r.stderr).toBe(0);
      const back = spawnSync(CRTOOL_CRIT[0], [CRTOOL_CRIT[1], "encode"], { input: r.stdout, maxBuffer: 1 << 28 });
      expect(back.status, back.stderr.toString()).toBe(0);
      expect(Buffer.compare(back.stdout, readFileSync(path)), name).toBe(0);
    }
    const json = JSON.parse(runCrit(CRTOOL_CRIT, join(dump.dir, "files.img")).stdout) as { entries: { bpf?: Record<string, unknown> }[] };
    const btfA = json.entries.find((e) => e.bpf?.map_name === "btf_a")!;
    expect(btfA.bpf!["$unknown"]).toEqual(expect.any(String));
    expect(entryOf("btf_a")[UNKNOWN_FIELDS]!.map((u) => u.no)).toEqual([1000, 1001, 1002, 1004]);
  });

  it.skipIf(!HAVE_DEBIAN_CRIT)("writes images Debian's crit decodes", () => {
    for (const name of ["files.img", "bpfmap-data.img"]) {
      const r = runCrit(DEBIAN_CRIT, join(dump.dir, name));
      expect(r.status, r.stderr).toBe(0);
      const json = JSON.parse(r.stdout) as { magic: string; entries: Record<string, unknown>[] };
      expect(json.entries.length).toBeGreaterThan(0);
    }
    const files = JSON.parse(runCrit(DEBIAN_CRIT, join(dump.dir, "files.img")).stdout) as { entries: { type: string; bpf?: { map_id: number } }[] };
    expect(files.entries.filter((e) => e.type === "BPFMAP").length).toBe(bpfEntries().length);
  });
});
