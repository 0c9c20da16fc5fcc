/**
 * The decoder at the edges of the wire format: uint64 fields of every width,
 * overlong, 11-byte and cut-off varints (taken or refused as
 * @bufbuild/protobuf's reader does, with the entry's type named), and a
 * missing required field named in the schema's order.
 */
import { describe, expect, it } from "vitest";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { decodeMessage } from "../../src/images/wire/decode-message.js";
import { messageTypeByName } from "../../src/images/schema/registry.js";

const PAGEMAP = messageTypeByName("pagemap_entry");

/** pagemap_entry with vaddr (field 1, uint64) given as raw varint bytes, and nr_pages = 1. */
function entryWithVaddr(varint: number[]): Uint8Array {
  return Uint8Array.from([0x08, ...varint, 0x10, 0x01]);
}

function theirs(bytes: Uint8Array): bigint | string {
  const r = new BinaryReader(bytes);
  r.uint32();
  try {
    return r.uint64() as bigint;
  } catch (e) {
    return (e as Error).message;
  }
}

function ours(bytes: Uint8Array): bigint | string {
  try {
    return decodeMessage(PAGEMAP, bytes).vaddr as bigint;
  } catch (e) {
    return (e as Error).message;
  }
}

describe("uint64 varints", () => {
  it("decodes every width of value exactly", () => {
    const values = [0n, 1n, 127n, 128n, 16383n, 16384n, (1n << 28n) - 1n, 1n << 28n, (1n << 32n) - 1n, 1n << 32n, 1n << 35n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, 0x7f1200000000n, 1n << 63n, (1n << 64n) - 1n];
    for (let i = 0; i < 64; i++) values.push((1n << BigInt(i)) + 0x5a5an, ((1n << 64n) - 1n) >> BigInt(i));
    for (const v of values) {
      const bytes = new BinaryWriter().tag(1, 0).uint64(v).tag(2, 0).uint32(1).finish();
      expect(ours(bytes), `${v}`).toBe(v);
      expect(theirs(bytes)).toBe(v);
    }
  });

  it("takes a 10-byte varint's excess bits, and refuses what BinaryReader refuses, alike", () => {
    const cases = [
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // bits past the 64th dropped
      [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], // zero, overlong
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 11 bytes: invalid
    ];
    for (const varint of cases) {
      const bytes = entryWithVaddr(varint);
      const want = theirs(bytes);
      const got = ours(bytes);
      if (typeof want === "bigint") expect(got).toBe(want);
      else expect(String(got)).toContain(want);
    }
  });

  it("a varint cut off at the end of the input is premature EOF, at every byte", () => {
    const full = new BinaryWriter().tag(1, 0).uint64((1n << 64n) - 1n).finish();
    for (let n = 2; n < full.length; n++) {
      const cut = full.subarray(0, n);
      expect(theirs(cut)).toBe("premature EOF");
      expect(ours(cut)).toBe("invalid protobuf data for pagemap_entry (premature EOF)");
    }
  });
});

describe("required fields", () => {
  it("names the first missing one in the schema's order", () => {
    expect(() => decodeMessage(PAGEMAP, Uint8Array.from([0x20, 0x01]))).toThrow('pagemap_entry: required field "vaddr" (1) is missing');
    expect(() => decodeMessage(PAGEMAP, Uint8Array.from([0x08, 0x01]))).toThrow('pagemap_entry: required field "compat_nr_pages" (2) is missing');
    expect(decodeMessage(PAGEMAP, entryWithVaddr([0x01]))).toEqual({ vaddr: 1n, compat_nr_pages: 1 });
  });
});
