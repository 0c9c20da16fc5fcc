/** The scratch files map contents pass through on their way to an image. */
import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ElementSpool, SPOOL_PIECE, SpoolFile } from "../../src/bpf/spool.js";

describe("spool files", () => {
  it("leave no name behind and read back what was written, in pieces", () => {
    const dir = mkdtempSync(join(tmpdir(), "crtool-spool-"));
    const f = new SpoolFile(dir);
    try {
      expect(readdirSync(dir)).toEqual([]);
      const big = Buffer.alloc(SPOOL_PIECE * 2 + 5);
      for (let i = 0; i < big.length; i++) big[i] = i % 251;
      f.append(big.subarray(0, 10));
      f.append(big.subarray(10));
      // A piece is valid until the next one is asked for: copied as it comes.
      const pieces = Array.from(f.pieces(), (p) => Buffer.from(p));
      expect(pieces.map((p) => p.length)).toEqual([SPOOL_PIECE, SPOOL_PIECE, 5]);
      expect(Buffer.concat(pieces).equals(big)).toBe(true);
      const mid = Buffer.alloc(4);
      f.readAt(mid, SPOOL_PIECE - 2);
      expect(mid.equals(big.subarray(SPOOL_PIECE - 2, SPOOL_PIECE + 2))).toBe(true);
    } finally {
      f.close();
      rmSync(dir, { recursive: true });
    }
  });

  it("lay elements out as CRIU does: every key, then every value", () => {
    const s = new ElementSpool();
    try {
      s.add(Buffer.from("k1k2"), Buffer.from("v1v2"), 2);
      s.add(Buffer.from("k3"), Buffer.from("v3"), 1);
      expect([s.count, s.keysBytes, s.valuesBytes]).toEqual([3, 6, 6]);
      expect(Buffer.concat(Array.from(s.pieces(), (p) => Buffer.from(p))).toString()).toBe("k1k2k3v1v2v3");
      // Truncated to its first two elements (keys and values of 2 bytes each).
      s.truncate(2, 2, 2);
      expect([s.count, s.keysBytes, s.valuesBytes]).toEqual([2, 4, 4]);
      expect(Buffer.concat(Array.from(s.pieces(), (p) => Buffer.from(p))).toString()).toBe("k1k2v1v2");
      expect(s.ranges().map((r) => r.length)).toEqual([4, 4]);
    } finally {
      s.close();
    }
  });
});
