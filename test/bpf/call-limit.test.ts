import { describe, expect, it } from "vitest";
import { callLimit } from "../../src/bpf/read/parallel-batch.js";

describe("callLimit (how much a bucket range asks for next)", () => {
  it("asks for nine tenths of what the buckets left hold at the load seen so far", () => {
    // 100,000 buckets read of 262,144, 95,000 elements found: 0.95 a bucket, 162,144 buckets left.
    expect(callLimit(0, 262_144, 100_000, 95_000)).toBe(Math.floor(162_144 * 0.95 * 0.9));
    // A range that does not start at 0 measures its load from its own start.
    expect(callLimit(262_144, 524_288, 362_144, 50_000)).toBe(Math.floor(162_144 * 0.5 * 0.9));
  });

  it("guesses half an element a bucket before it has read any", () => {
    expect(callLimit(1000, 101_000, 1000, 0)).toBe(Math.floor(100_000 * 0.5 * 0.9));
  });

  it("never asks for fewer than 256, even at or past the range's end", () => {
    expect(callLimit(0, 1000, 990, 990)).toBe(256);
    expect(callLimit(0, 1000, 1000, 1000)).toBe(256);
    // An empty stretch so far: load 0 would ask for nothing.
    expect(callLimit(0, 1_000_000, 500_000, 0)).toBe(256);
  });
});
