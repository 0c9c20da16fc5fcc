/**
 * The BTF reader of the image layer, and libbpf's map names from it: BTF
 * built in TypeScript, then read back; a map whose name the kernel cut to
 * 15 bytes gets libbpf's full name from the object's ".maps" section, and
 * libbpf's pin name has "_" for ".".
 */
import { describe, expect, it } from "vitest";
import { Btf, BtfFormatError, btfDefinedMaps, libbpfMapName, libbpfPinName } from "../../src/images/index.js";
import { BtfBuilder } from "../helpers/btf-builder.js";

const HASH = 1;
const ARRAY = 2;

function objectBtf() {
  const b = new BtfBuilder();
  const int = b.int("int", 4, true);
  const u64 = b.int("unsigned long long", 8);
  const key = b.struct("flow_key", 8, [["saddr", int, 0], ["daddr", int, 32]]);
  const conn = b.mapDef("connection_tracking_table", int, HASH, 16, key, u64);
  const conn2 = b.mapDef("connection_tracking_errors", int, HASH, 16, int, u64);
  const counters = b.mapDef("counters", int, ARRAY, 8, int, u64);
  b.datasec(".maps", 96, [[conn, 0, 32], [conn2, 32, 32], [counters, 64, 32]]);
  return { bytes: b.build(), ids: { int, u64, key } };
}

describe("BTF", () => {
  it("reads types back: kinds, names, sizes, members, and DATASEC variables by name", () => {
    const { bytes, ids } = objectBtf();
    const btf = Btf.parse(bytes);
    expect(btf.type(ids.int)).toMatchObject({ kind: "INT", name: "int", size: 4, int: { encoding: 1, offset: 0, bits: 32 } });
    expect(btf.type(ids.key)).toMatchObject({ kind: "STRUCT", name: "flow_key", size: 8, members: [{ name: "saddr", type: ids.int, offset: 0 }, { name: "daddr", type: ids.int, offset: 32 }] });
    const [sec] = btf.named(".maps", "DATASEC");
    expect(sec.members.map((m) => m.name)).toEqual(["connection_tracking_table", "connection_tracking_errors", "counters"]);
    expect(btf.type(0)).toBeUndefined();
    expect(btf.type(btf.count + 1)).toBeUndefined();
  });

  it("refuses what is not BTF, with the offset", () => {
    expect(() => Btf.parse(new Uint8Array(8))).toThrow(BtfFormatError);
    const bad = objectBtf().bytes;
    bad.writeUInt16LE(0x1234, 0);
    expect(() => Btf.parse(bad)).toThrow("not BTF: magic 0x1234, expected 0xeb9f");
    const short = objectBtf().bytes;
    short.writeUInt32LE(1 << 20, 12);
    expect(() => Btf.parse(short)).toThrow("BTF header announces sections past its");
  });

  it("lists libbpf's map definitions with their type, max_entries, key and value", () => {
    const { bytes, ids } = objectBtf();
    expect(btfDefinedMaps(Btf.parse(bytes))).toEqual([
      { name: "connection_tracking_table", mapType: HASH, maxEntries: 16, keyTypeId: ids.key, valueTypeId: ids.u64 },
      { name: "connection_tracking_errors", mapType: HASH, maxEntries: 16, keyTypeId: ids.int, valueTypeId: ids.u64 },
      { name: "counters", mapType: ARRAY, maxEntries: 8, keyTypeId: ids.int, valueTypeId: ids.u64 },
    ]);
  });

  it("finds libbpf's full name of a map the kernel knows by 15 bytes, told apart by its key type", () => {
    const { bytes, ids } = objectBtf();
    const btf = Btf.parse(bytes);
    const facts = { name: "connection_trac", mapType: HASH, maxEntries: 16, valueTypeId: ids.u64 };
    expect(libbpfMapName(btf, { ...facts, keyTypeId: ids.key })).toBe("connection_tracking_table");
    expect(libbpfMapName(btf, { ...facts, keyTypeId: ids.int })).toBe("connection_tracking_errors");
    // Without a key type to go by, two definitions fit: no guess.
    expect(libbpfMapName(btf, { ...facts, keyTypeId: 0 })).toBeUndefined();
    expect(libbpfMapName(btf, { name: "counters", mapType: ARRAY, maxEntries: 8, keyTypeId: ids.int, valueTypeId: ids.u64 })).toBe("counters");
    // A shorter name was not cut: it is the whole name or none.
    expect(libbpfMapName(btf, { name: "connection", mapType: HASH, maxEntries: 16, keyTypeId: ids.key, valueTypeId: ids.u64 })).toBeUndefined();
  });

  it("pins by name as libbpf does: '.' becomes '_'", () => {
    expect(libbpfPinName("agent.rodata")).toBe("agent_rodata");
    expect(libbpfPinName("my.obj.data")).toBe("my_obj_data");
    expect(libbpfPinName("flows")).toBe("flows");
  });
});
