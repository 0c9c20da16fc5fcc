/**
 * The protobuf writer's short paths (ASCII strings written by hand, a few
 * bytes copied by hand) against the reference encoder, @bufbuild/protobuf's
 * BinaryWriter: the same bytes for strings around each boundary (127/128
 * characters, the first non-ASCII character at every position, astral
 * characters, lone surrogates), for raw copies of 0 to 40 bytes, and for
 * length-delimited values around each length-prefix size, nested.
 */
import { describe, expect, it } from "vitest";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Writer } from "../../src/images/wire/writer.js";

function ours(write: (w: Writer) => void): Uint8Array {
  const w = new Writer();
  write(w);
  return w.finish();
}

describe("Writer", () => {
  const strings = [
    "",
    "a",
    "bench_123",
    "x".repeat(127),
    "x".repeat(128),
    "é".repeat(64),
    "\u{1F600}",
    "a\uD800b",
    "/proc/self/fd/3 (deleted)",
    ...Array.from({ length: 10 }, (_, i) => "abcdefghij".slice(0, i) + "é" + "klmnopqrst".slice(i)),
  ];
  it.each(strings.map((s) => [JSON.stringify(s).slice(0, 40), s]))("writes %s as BinaryWriter does", (_, s) => {
    const want = new BinaryWriter().string(s).finish();
    expect(Buffer.from(ours((w) => w.string(s)))).toEqual(Buffer.from(want));
    // After other bytes, at an offset, and followed by more.
    const after = ours((w) => {
      w.varint32(300);
      w.string(s);
      w.varint32(7);
    });
    expect(Buffer.from(after)).toEqual(Buffer.from(new BinaryWriter().uint32(300).string(s).uint32(7).finish()));
  });

  it("copies raw bytes of every small length and a large one", () => {
    for (const n of [0, 1, 15, 16, 17, 40, 5000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const got = ours((w) => {
        w.varint32(1);
        w.raw(bytes);
        w.raw(bytes.subarray(1));
      });
      expect(Buffer.from(got)).toEqual(Buffer.concat([Buffer.from([1]), Buffer.from(bytes), Buffer.from(bytes.subarray(1))]));
    }
  });

  it("fits the length of a length-delimited value around each prefix size, nested", () => {
    for (const n of [0, 1, 127, 128, 129, 16383, 16384, 2097151, 2097152]) {
      const body = Uint8Array.from({ length: n }, (_, i) => (i * 13 + n) & 0xff);
      const got = ours((w) => {
        w.varint32(9);
        const outer = w.begin();
        w.varint32(5);
        const inner = w.begin();
        w.raw(body);
        w.end(inner);
        w.varint32(6);
        w.end(outer);
        w.varint32(7);
      });
      const want = new BinaryWriter().uint32(9).fork().uint32(5).bytes(body).uint32(6).join().uint32(7).finish();
      expect(Buffer.from(got).equals(Buffer.from(want)), `${n} bytes`).toBe(true);
    }
  });
});
