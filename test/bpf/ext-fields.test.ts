/**
 * crtool's extension fields on CRIU's BPF map messages, and MapSpec's image
 * form: no kernel needed.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { decodeImage, encodeImage, encodeMessage, decodeMessage, messageTypeByName, UNKNOWN_FIELDS, type ImageMessage } from "../../src/images/index.js";
import { EXTENSIONS, FIRST_EXT_FIELD, getExtFields, setExtFields } from "../../src/images/ext-fields.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { HAVE_FIXTURES, imagePath } from "../helpers/fixtures.js";
import { fileEntryOf, specFromImage } from "../../src/bpf/map-spec-image.js";

const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

function sampleSpec(): MapSpec {
  return new MapSpec({
    mapType: 13, // HASH_OF_MAPS
    keySize: 4,
    valueSize: 4,
    maxEntries: 64,
    mapFlags: 4, // BPF_F_NUMA_NODE
    name: "outer",
    numaNode: 0,
    btf: { id: 77, keyTypeId: 1, valueTypeId: 2, vmlinuxValueTypeId: 0, data: Uint8Array.from([0x9f, 0xeb, 1, 0]) },
    frozen: true,
    inner: new MapSpec({ mapType: 5, keySize: 4, valueSize: 12, maxEntries: 8, mapFlags: 0, name: "inner", mapId: 31, btf: { id: 77, keyTypeId: 1, valueTypeId: 3, vmlinuxValueTypeId: 0, data: undefined } }),
    pinPath: "/sys/fs/bpf/app/outer",
    mapId: 30,
    memlock: 4096n,
    mapExtra: 0n,
  });
}

describe("extension fields", () => {
  it("are all numbered from 1000 and unused by CRIU's messages", () => {
    for (const [base, ext] of Object.entries(EXTENSIONS)) {
      const baseType = messageTypeByName(base);
      for (const f of messageTypeByName(ext).fields) {
        expect(f.no, `${ext}.${f.name}`).toBeGreaterThanOrEqual(FIRST_EXT_FIELD);
        expect(baseType.byNumber.has(f.no)).toBe(false);
      }
    }
  });

  it("ride in UNKNOWN_FIELDS, keep other unknown fields, and replace their own earlier values", () => {
    const msg: ImageMessage = { map_id: 5, keys_bytes: 0, values_bytes: 0, count: 0 };
    msg[UNKNOWN_FIELDS] = [{ no: 7, wireType: 0, data: Uint8Array.from([1]) }];
    setExtFields("bpfmap_data_entry", msg, { possible_cpus: 4 });
    setExtFields("bpfmap_data_entry", msg, { possible_cpus: 64 });
    expect(msg[UNKNOWN_FIELDS]!.map((u) => u.no)).toEqual([7, 1000]);
    expect(getExtFields("bpfmap_data_entry", msg)).toEqual({ possible_cpus: 64 });
    setExtFields("bpfmap_data_entry", msg, {});
    expect(msg[UNKNOWN_FIELDS]!.map((u) => u.no)).toEqual([7]);
    expect(getExtFields("bpfmap_data_entry", { map_id: 1 })).toEqual({});
  });

  it("survive the binary form: CRIU's schema keeps them as unknown, byte for byte", () => {
    const type = messageTypeByName("bpfmap_file_entry");
    const entry = fileEntryOf(sampleSpec(), { id: 3, flags: 2, pos: 0n, fown, mntId: 17 });
    const bytes = encodeMessage(type, entry);
    const back = decodeMessage(type, bytes);
    expect(back[UNKNOWN_FIELDS]!.map((u) => u.no)).toEqual([1000, 1001, 1002, 1004, 1006, 1007, 1008]);
    expect(Buffer.from(encodeMessage(type, back)).equals(Buffer.from(bytes))).toBe(true);
    // CRIU's own fields come first, in number order, as protobuf-c writes them.
    expect(Buffer.from(bytes.subarray(0, 2)).toString("hex")).toBe("0803");
  });
});

describe("MapSpec", () => {
  it("goes through a files.img entry and back unchanged", async () => {
    const spec = sampleSpec();
    const file: ImageMessage = { type: 19, id: 3, bpf: fileEntryOf(spec, { id: 3, flags: 2, pos: 0n, fown, mntId: 17 }) };
    const img = encodeImage("FILES", [{ message: file }]);
    const { entries } = await decodeImage(img);
    const again = specFromImage(entries[0].message.bpf as ImageMessage);
    expect(again).toEqual(spec.with({ inner: spec.inner!.with({ memlock: 0n, frozen: false, ifindex: 0, mapExtra: 0n }) }));
    expect(again.inner!.btf?.data).toBeUndefined();
    expect(again.toCreateOptions()).toMatchObject({ mapType: 13, keySize: 4, valueSize: 4, maxEntries: 64, mapFlags: 4, name: "outer", numaNode: 0, btfKeyTypeId: 1, btfValueTypeId: 2 });
  });

  it("writes CRIU's fields as CRIU does: map_extra only when non-zero, mnt_id when known", () => {
    const plain = new MapSpec({ mapType: 1, keySize: 4, valueSize: 8, maxEntries: 16, mapFlags: 0, name: "h", mapId: 9, memlock: 2320n });
    const e = fileEntryOf(plain, { id: 1, flags: 2, pos: 0n, fown });
    expect(e).toEqual({
      id: 1, flags: 2, pos: 0n, fown, map_type: 1, key_size: 4, value_size: 8, map_id: 9, max_entries: 16,
      map_flags: 0, memlock: 2320n, frozen: false, map_name: "h", ifindex: 0,
    });
    expect(fileEntryOf(plain.with({ mapExtra: 3n }), { id: 1, flags: 2, pos: 0n, fown }).map_extra).toBe(3n);
  });

  it.skipIf(!HAVE_FIXTURES)("reads CRIU 4.2's own entries (no extension fields)", async () => {
    const { entries } = await decodeImage(readFileSync(imagePath("bpf-basic", "files.img")));
    const specs = entries.filter((e) => e.message.type === 19).map((e) => specFromImage(e.message.bpf as ImageMessage));
    expect(specs.map((s) => [s.typeName, s.name, s.keySize, s.valueSize, s.maxEntries, s.frozen])).toEqual([
      ["HASH", "basic_hash", 4, 8, 16, false],
      ["ARRAY", "basic_array", 4, 8, 4, false],
      ["ARRAY", "frozen_arr", 4, 4, 2, true],
    ]);
    expect(specs.every((s) => s.btf === undefined && s.inner === undefined && s.possibleCpus === undefined)).toBe(true);
  });
});
