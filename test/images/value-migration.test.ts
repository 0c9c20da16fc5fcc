/**
 * planValueMigration: values of one struct definition moved into the next,
 * both described by the BTF clang writes for them.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBpfObject } from "../../src/images/btf/bpf-object-file.js";
import { ValueMigrationError, planValueMigration } from "../../src/images/btf/value-migration.js";
import type { Btf } from "../../src/images/btf/btf.js";

const HAVE_CLANG = spawnSync("clang", ["--version"], { stdio: "ignore" }).status === 0;
if (!HAVE_CLANG) console.warn("skipping the value migration tests: clang is needed to make BTF");

const SOURCE = `
typedef unsigned char u8; typedef int s32; typedef long long s64; typedef unsigned long long u64; typedef unsigned int u32;
struct v1 { u64 packets; u64 bytes; char comm[8]; s32 delta; u8 tag[2]; struct { u32 a; u32 b; } pair; };
struct v2 { u64 bytes; u64 packets; u64 drops; char comm[8]; s64 delta; u8 tag[4]; struct { u32 b; u32 a; } pair; };
struct narrow { u32 packets; };
struct kind { struct { u64 x; } packets; };
struct fewer { u64 packets; u64 bytes; char comm[4]; };
struct dropped { u64 packets; };
struct v1 g1; struct v2 g2; struct narrow g3; struct kind g4; struct fewer g5; struct dropped g6;
char LICENSE[] __attribute__((section("license"))) = "GPL";
`;

function btfOf(source: string): Btf {
  const dir = mkdtempSync(join(tmpdir(), "crtool-migration-"));
  try {
    writeFileSync(join(dir, "t.c"), source);
    const r = spawnSync("clang", ["-g", "-O2", "-target", "bpf", "-c", join(dir, "t.c"), "-o", join(dir, "t.o")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    return readBpfObject(readFileSync(join(dir, "t.o")), "t.o").btf;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!HAVE_CLANG)("planValueMigration", () => {
  const btf = HAVE_CLANG ? btfOf(SOURCE) : (undefined as unknown as Btf);
  const id = (name: string) => btf.named(name, "STRUCT")[0].id;
  const layout = (name: string) => ({ btf, typeId: id(name) });

  it("moves fields by name, widens integers and arrays, starts new fields at zero, and lists each change", () => {
    const m = planValueMigration(layout("v1"), layout("v2"), "flows");
    expect([m.oldSize, m.newSize, m.identical]).toEqual([40, 56, false]);
    expect(m.changes).toEqual(["flows.drops: new, starts at zero", "flows.delta: 4 → 8 bytes, value kept", "flows.tag: 2 → 4 elements, the new ones at zero"]);
    const old = Buffer.alloc(40);
    old.writeBigUInt64LE(7n, 0); // packets
    old.writeBigUInt64LE(1500n, 8); // bytes
    old.write("curl", 16, "latin1"); // comm
    old.writeInt32LE(-5, 24); // delta
    old[28] = 0xaa; // tag
    old[29] = 0xbb;
    old.writeUInt32LE(1, 32); // pair.a
    old.writeUInt32LE(2, 36); // pair.b
    const out = Buffer.alloc(8 + 56);
    m.convert(old, 0, out, 8);
    const v = out.subarray(8);
    expect(v.readBigUInt64LE(0)).toBe(1500n); // bytes
    expect(v.readBigUInt64LE(8)).toBe(7n); // packets
    expect(v.readBigUInt64LE(16)).toBe(0n); // drops
    expect(v.subarray(24, 32).toString("latin1")).toBe("curl\0\0\0\0");
    expect(v.readBigInt64LE(32)).toBe(-5n);
    expect([...v.subarray(40, 44)]).toEqual([0xaa, 0xbb, 0, 0]);
    expect([v.readUInt32LE(44), v.readUInt32LE(48)]).toEqual([2, 1]); // pair.b, pair.a
    expect(out.subarray(0, 8).every((b) => b === 0)).toBe(true);
  });

  it("says a value that stays the same is identical", () => {
    const m = planValueMigration(layout("v2"), layout("v2"));
    expect(m.identical).toBe(true);
    expect(m.changes).toEqual([]);
  });

  it("lists fields the new definition drops", () => {
    expect(() => planValueMigration(layout("v1"), layout("fewer"), "flows")).toThrow(/^flows.comm: shrinks from 8 to 4 elements$/);
    const m = planValueMigration(layout("narrow"), layout("fewer"), "x");
    expect(m.changes).toContain("x.bytes: new, starts at zero");
    expect(planValueMigration(layout("fewer"), layout("dropped"), "y").changes).toEqual(["y.bytes: not in the new definition, dropped", "y.comm: not in the new definition, dropped"]);
  });

  it("refuses what would change a value's meaning, naming the field", () => {
    expect(() => planValueMigration(layout("v1"), layout("narrow"), "flows")).toThrow(ValueMigrationError);
    expect(() => planValueMigration(layout("v1"), layout("narrow"), "flows")).toThrow(/^flows.packets: shrinks from 8 to 4 bytes, which could change its value$/);
    expect(() => planValueMigration(layout("v1"), layout("kind"), "flows")).toThrow(/^flows.packets: was an integer \(unsigned long long\), is a struct in the new definition$/);
  });
});
