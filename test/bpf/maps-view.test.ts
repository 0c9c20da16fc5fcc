/**
 * `crtool maps DIR --json`: a checkpoint's map elements exactly as `bpftool
 * map dump -j` prints the live maps, "formatted" part included. The maps'
 * BTF is built here in TypeScript (ints of each size and signedness, char
 * and bool, a struct with a nested struct array and a char array, an enum,
 * a union, a typedef, bitfields, a pointer, a volatile, a DATASEC) and the
 * maps are live (HASH, ARRAY, PERCPU_HASH, LRU_HASH, LPM_TRIE, global data),
 * pinned and dumped with `crtool dump --pinned`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BPF_F_NO_PREALLOC, btfLoad, close, mapCreate, mapDeleteElem, mapUpdateElem, objGet, objPin, possibleCpus } from "../../src/kernel/index.js";
import { IS_ROOT, bpffsDir, type Bpffs } from "../kernel/helpers.js";
import { runCli } from "../helpers/run-cli.js";
import { BtfBuilder } from "../helpers/btf-builder.js";
import { HAVE_DIST } from "./harness.js";

const HAVE_BPFTOOL = spawnSync("bpftool", ["version"], { stdio: "ignore" }).status === 0;
if (!HAVE_BPFTOOL) console.warn("skipping the bpftool comparison of crtool maps: bpftool is not installed");

/** The BTF of the test maps, and the ids of the types the maps use. */
function testBtf() {
  const b = new BtfBuilder();
  const u8 = b.int("unsigned char", 1);
  const s8 = b.int("signed char", 1, true);
  const u16 = b.int("unsigned short", 2);
  const s16 = b.int("short", 2, true);
  const u32 = b.int("unsigned int", 4);
  const s32 = b.int("int", 4, true);
  const u64 = b.int("unsigned long long", 8);
  const s64 = b.int("long long", 8, true);
  const char = b.intEncoded("char", 1, 2);
  const bool = b.intEncoded("_Bool", 1, 4);
  const u32t = b.typedef("u32_t", u32);
  const color = b.enum("color", 4, [["RED", 0], ["GREEN", 1], ["BLUE", 7]]);
  const inner = b.struct("pair", 4, [["a", u16, 0], ["b", u16, 16]]);
  const num = b.union("num", 4, [["i", u32], ["bytes", b.array(u8, s32, 4)]]);
  const key = b.struct("key_t", 8, [["id", u32, 0], ["proto", u8, 32], ["pad", b.array(u8, s32, 3), 40]]);
  const val = b.bitfieldStruct("struct", "val_t", 64, [
    ["delta", s64, 0, 0],
    ["big", u64, 64, 0],
    ["comm", b.array(char, s32, 8), 128, 0],
    ["pairs", b.array(inner, s32, 2), 192, 0],
    ["color", color, 256, 0],
    ["n", num, 288, 0],
    ["flags", u32, 320, 3],
    ["mode", u32, 323, 5],
    ["on", bool, 352, 0],
    ["neg", s8, 360, 0],
    ["small", s16, 368, 0],
    ["ptr", b.ptr(0), 384, 0],
    ["v", b.volatile(s32), 448, 0],
  ]);
  const lpm = b.struct("lpm_v4", 8, [["prefixlen", u32, 0], ["addr", b.array(u8, s32, 4), 32]]);
  const counter = b.variable("counter", u64);
  const label = b.variable("label", b.array(char, s32, 8));
  const level = b.variable("level", color);
  const data = b.datasec(".data", 24, [[counter, 0, 8], [label, 8, 8], [level, 16, 4]]);
  return { bytes: b.build(), ids: { u32, u64, u32t, key, val, lpm, data } };
}

function valBytes(i: number): Buffer {
  const v = Buffer.alloc(64);
  v.writeBigInt64LE(BigInt(-1000 * i - 1), 0);
  v.writeBigUInt64LE(0xfffffffffffffff0n + BigInt(i), 8); // past 2^53: printed exactly
  if (i % 2) v.write(`curl-${i}`, 16, "latin1");
  else v.set([0x41, 0x07, 0x42], 16); // a control byte: not a string, a list of chars
  v.writeUInt16LE(i, 24);
  v.writeUInt16LE(i + 1, 26);
  v.writeUInt16LE(0xffff, 28);
  v.writeInt32LE([0, 1, 7, 3][i % 4], 32); // 3 names no color: the number
  v.writeUInt32LE(0x01020304 * (i + 1), 36);
  v.writeUInt32LE((i & 7) | (((i * 3) & 31) << 3), 40);
  v.writeUInt8(i % 2, 44);
  v.writeInt8(-i - 1, 45);
  v.writeInt16LE(-300 * i, 46);
  v.writeBigUInt64LE(0xffff800012345678n + BigInt(i), 48);
  v.writeInt32LE(i * 11, 56);
  return v;
}

const u32b = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

describe.skipIf(!IS_ROOT || !HAVE_DIST)("crtool maps", () => {
  let fs: Bpffs | null;
  let work: string;
  const pins: string[] = [];
  const cpus = possibleCpus();

  beforeAll(() => {
    fs = bpffsDir();
    work = mkdtempSync(join(tmpdir(), "crtool-maps-"));
    if (!fs) return;
    const { bytes, ids } = testBtf();
    const btf = btfLoad(bytes);
    const make = (name: string, o: Parameters<typeof mapCreate>[0], fill: (fd: number) => void) => {
      const fd = mapCreate({ ...o, name, btfFd: btf });
      try {
        fill(fd);
        // bpffs refuses dots in names (app.data is pinned as app_data, as libbpf does).
        const pin = join(fs!.dir, name.replaceAll(".", "_"));
        objPin(fd, pin);
        pins.push(pin);
      } finally {
        close(fd);
      }
    };
    try {
      make("typed_hash", { mapType: "HASH", keySize: 8, valueSize: 64, maxEntries: 16, btfKeyTypeId: ids.key, btfValueTypeId: ids.val }, (fd) => {
        for (let i = 0; i < 5; i++) {
          const k = Buffer.alloc(8);
          k.writeUInt32LE(100 + i);
          k.writeUInt8(6 + i, 4);
          mapUpdateElem(fd, k, valBytes(i));
        }
      });
      make("typed_array", { mapType: "ARRAY", keySize: 4, valueSize: 64, maxEntries: 3, btfKeyTypeId: ids.u32, btfValueTypeId: ids.val }, (fd) => {
        mapUpdateElem(fd, u32b(1), valBytes(7));
      });
      make("pcpu_hash", { mapType: "PERCPU_HASH", keySize: 4, valueSize: 8, maxEntries: 8, btfKeyTypeId: ids.u32, btfValueTypeId: ids.u64 }, (fd) => {
        const v = Buffer.alloc(8 * cpus);
        for (let c = 0; c < cpus; c++) v.writeBigUInt64LE(BigInt(c * 100 + 5), c * 8);
        mapUpdateElem(fd, u32b(5), v);
      });
      make("lru_typedef", { mapType: "LRU_HASH", keySize: 4, valueSize: 4, maxEntries: 32, btfKeyTypeId: ids.u32, btfValueTypeId: ids.u32t }, (fd) => {
        for (let i = 0; i < 4; i++) mapUpdateElem(fd, u32b(i), u32b(0xfffffff0 + i));
      });
      make("routes", { mapType: "LPM_TRIE", keySize: 8, valueSize: 4, maxEntries: 8, mapFlags: BPF_F_NO_PREALLOC, btfKeyTypeId: ids.lpm, btfValueTypeId: ids.u32 }, (fd) => {
        mapUpdateElem(fd, Buffer.from([16, 0, 0, 0, 10, 1, 0, 0]), u32b(1));
        mapUpdateElem(fd, Buffer.from([24, 0, 0, 0, 192, 168, 7, 0]), u32b(2));
      });
      make("app.data", { mapType: "ARRAY", keySize: 4, valueSize: 24, maxEntries: 1, btfKeyTypeId: 0, btfValueTypeId: ids.data }, (fd) => {
        const v = Buffer.alloc(24);
        v.writeBigUInt64LE(42n, 0);
        v.write("ready", 8, "latin1");
        v.writeInt32LE(7, 16);
        mapUpdateElem(fd, u32b(0), v);
      });
      // A map-in-map whose inner map only it holds.
      const inner = mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 2, name: "inner_arr" });
      try {
        mapUpdateElem(inner, u32b(1), u32b(0xabcd));
        make("outer_hom", { mapType: "HASH_OF_MAPS", keySize: 4, valueSize: 4, maxEntries: 4, innerMapFd: inner }, (fd) => mapUpdateElem(fd, u32b(3), u32b(inner)));
      } finally {
        close(inner);
      }
    } finally {
      close(btf);
    }
  });

  afterAll(() => {
    for (const p of pins) unlinkSync(p);
    fs?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  /** The --pinned dump of the test maps, made once. */
  const dump = () => {
    const dir = join(work, "dump");
    if (existsSync(dir)) return dir;
    const r = runCli("crtool", ["dump", "--pinned", fs!.dir, "-D", dir]);
    expect(r.status, r.stderr).toBe(0);
    return dir;
  };

  interface Line {
    name: string;
    pin_path: string;
    btf: { key: string; value: string } | null;
    entries: unknown[];
  }

  const lines = (args: string[]): Line[] => {
    const r = runCli("crtool", ["maps", dump(), "--json", ...args]);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.toString().trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Line);
  };

  const sorted = (list: unknown[]) => list.map((e) => JSON.stringify(e)).sort();

  it("prints each map's elements as bpftool map dump -j prints the live map", (ctx) => {
    if (!fs) return ctx.skip();
    const maps = lines([]);
    // The inner map no fd or pin refers to is shown inside its outer map, not on a line of its own.
    expect(maps.map((m) => m.name).sort()).toEqual(["app.data", "lru_typedef", "outer_hom", "pcpu_hash", "routes", "typed_array", "typed_hash"]);
    if (!HAVE_BPFTOOL) return ctx.skip();
    for (const m of maps) {
      const r = spawnSync("bpftool", ["map", "dump", "pinned", m.pin_path, "-j"], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      // The same text, element by element (hash order aside): 64-bit values exact.
      const theirs = (JSON.parse(r.stdout) as unknown[]).map((e) => JSON.stringify(e));
      expect(sorted(m.entries), m.name).toEqual(theirs.sort());
    }
    const raw = runCli("crtool", ["maps", dump(), "--json", "--map", "typed_hash"]).stdout.toString();
    expect(raw).toContain('"big":18446744073709551600,');
  });

  it("names the key and value types, and reads formatted values the way bpftool does", (ctx) => {
    if (!fs) return ctx.skip();
    const by = new Map(lines([]).map((m) => [m.name, m]));
    expect(by.get("typed_hash")!.btf).toEqual({ key: "struct key_t", value: "struct val_t" });
    expect(by.get("lru_typedef")!.btf).toEqual({ key: "unsigned int", value: "u32_t" });
    expect(by.get("app.data")!.btf).toEqual({ key: "", value: ".data" });
    const data = by.get("app.data")!.entries[0] as { formatted: unknown };
    expect(data.formatted).toEqual({ value: { ".data": [{ counter: 42 }, { label: "ready" }, { level: "BLUE" }] } });
    const arr = by.get("typed_array")!.entries as { formatted: { key: number; value: Record<string, unknown> } }[];
    expect(arr).toHaveLength(3);
    const v = arr[1].formatted.value;
    expect(v).toMatchObject({ delta: -7001, comm: "curl-7", pairs: [{ a: 7, b: 8 }, { a: 65535, b: 0 }], color: 3, flags: "0x7", mode: "0x15", on: true, neg: -8, small: -2100, v: 77 });
    expect(v.n).toEqual({ i: 0x08101820, bytes: [0x20, 0x18, 0x10, 0x08] });
  });

  it("nests a map-in-map's inner maps under its outer keys", (ctx) => {
    if (!fs) return ctx.skip();
    const [outer] = lines(["--map", "outer_hom"]) as (Line & { inner_maps: (Line & { key: string[] })[] })[];
    expect(outer.inner_maps).toHaveLength(1);
    expect(outer.inner_maps[0]).toMatchObject({ key: ["0x03", "0x00", "0x00", "0x00"], name: "inner_arr", type: "array" });
    expect(outer.inner_maps[0].entries).toEqual([
      { key: ["0x00", "0x00", "0x00", "0x00"], value: ["0x00", "0x00", "0x00", "0x00"] },
      { key: ["0x01", "0x00", "0x00", "0x00"], value: ["0xcd", "0xab", "0x00", "0x00"] },
    ]);
  });

  it("--limit, --map and the table", (ctx) => {
    if (!fs) return ctx.skip();
    const two = lines(["--map", "typed_hash", "--limit", "2"]);
    expect(two).toHaveLength(1);
    expect(two[0].entries).toHaveLength(2);
    const tableText = runCli("crtool", ["maps", dump()]).stdout.toString();
    // crit x DIR bpf (crtool's addition to the explorers) is the same table.
    expect(runCli("crit", ["x", dump(), "bpf"]).stdout.toString()).toBe(tableText);
    const table = tableText.split("\n");
    expect(table[0]).toMatch(/^PID +FD +TYPE +NAME +KEY +VALUE +MAX_ENTRIES +ENTRIES +BYTES +FROZEN +FLAGS +BTF +PIN$/);
    expect(table.find((l) => l.includes(" typed_hash "))).toMatch(/hash +typed_hash +8 +64 +16 +5 +360 +no +- +struct key_t → struct val_t +\//);
    expect(table.find((l) => l.includes(" routes "))).toMatch(/lpm_trie +routes .* BPF_F_NO_PREALLOC +struct lpm_v4 → unsigned int/);
  });

  it("maps diff: elements added, removed and changed (typed), attributes, maps on one side only; exit 0/1/2", (ctx) => {
    if (!fs) return ctx.skip();
    const a = dump();
    // B: the same maps, changed.
    const open = (name: string) => objGet(join(fs!.dir, name));
    const fd = open("typed_hash");
    try {
      const k = (id: number, proto: number) => {
        const b = Buffer.alloc(8);
        b.writeUInt32LE(id);
        b.writeUInt8(proto, 4);
        return b;
      };
      mapUpdateElem(fd, k(200, 17), valBytes(9)); // added
      mapDeleteElem(fd, k(101, 7)); // removed
      mapUpdateElem(fd, k(102, 8), valBytes(5)); // changed
    } finally {
      close(fd);
    }
    // lru_typedef: replaced by a map of the same name with another max_entries.
    unlinkSync(join(fs.dir, "lru_typedef"));
    const other = mapCreate({ mapType: "LRU_HASH", keySize: 4, valueSize: 4, maxEntries: 64, name: "lru_typedef" });
    objPin(other, join(fs.dir, "lru_typedef"));
    close(other);
    // pcpu_hash is gone; fresh is new.
    unlinkSync(join(fs.dir, "pcpu_hash"));
    pins.splice(pins.indexOf(join(fs.dir, "pcpu_hash")), 1);
    const fresh = mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 1, name: "fresh" });
    objPin(fresh, join(fs.dir, "fresh"));
    pins.push(join(fs.dir, "fresh"));
    close(fresh);
    const b = join(work, "dump-b");
    expect(runCli("crtool", ["dump", "--pinned", fs.dir, "-D", b]).status).toBe(0);

    const same = runCli("crtool", ["maps", "diff", a, a]);
    expect(same.status, same.stderr).toBe(0);
    expect(same.stdout.toString()).toBe("the maps are equal (8)\n");

    const r = runCli("crtool", ["maps", "diff", a, b, "--json"]);
    expect(r.status, r.stderr).toBe(1);
    type Entry = { key: string[]; formatted?: { key: { id: number }; value: Record<string, unknown> } };
    const d = JSON.parse(r.stdout.toString()) as { equal: boolean; maps: { name: string; status: string; attributes: { field: string; a: unknown; b: unknown }[]; added: Entry[]; removed: Entry[]; changed: { a: Entry; b: Entry }[] }[] };
    expect(d.equal).toBe(false);
    const by = new Map(d.maps.map((m) => [m.name, m]));
    const hash = by.get("typed_hash")!;
    expect(hash.status).toBe("changed");
    expect(hash.added.map((e) => e.formatted!.key)).toEqual([{ id: 200, proto: 17, pad: [0, 0, 0] }]);
    expect(hash.removed.map((e) => e.formatted!.key.id)).toEqual([101]);
    expect(hash.changed).toHaveLength(1);
    expect(hash.changed[0].a.formatted!.value).toMatchObject({ delta: -2001, comm: ["A", "\u0007", "B", "\u0000", "\u0000", "\u0000", "\u0000", "\u0000"] });
    expect(hash.changed[0].b.formatted!.value).toMatchObject({ comm: "curl-5" });
    expect(by.get("lru_typedef")).toMatchObject({ status: "changed", attributes: [{ field: "max_entries", a: 32, b: 64 }, { field: "btf", a: { key: "unsigned int", value: "u32_t" }, b: null }] });
    expect(by.get("pcpu_hash")!.status).toBe("only in A");
    expect(by.get("fresh")!.status).toBe("only in B");
    for (const n of ["typed_array", "routes", "app.data", "outer_hom", "inner_arr"]) expect(by.get(n)!.status, n).toBe("equal");

    const text = runCli("crtool", ["maps", "diff", a, b]).stdout.toString().split("\n");
    expect(text[0]).toBe("the maps differ: 2 changed, 1 only in A, 1 only in B, 5 equal");
    expect(text).toContain('map "pcpu_hash" only in A (' + join(fs.dir, "pcpu_hash") + ")");
    expect(text.find((l) => l.startsWith("  + "))).toMatch(/^  \+ \{"key":\{"id":200,"proto":17,"pad":\[0,0,0\]\},"value":\{/);
    expect(text).toContain("  max_entries: 32 → 64");

    const bad = runCli("crtool", ["maps", "diff", a, join(work, "nothing")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`crtool: ${join(work, "nothing")}: no such directory or archive\n`);
  });
});
