import { availableParallelism } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { evenRanges, largeMapThreads } from "../../src/bpf/kernel-threads.js";

describe("largeMapThreads", () => {
  const before = process.env.CRTOOL_THREADS;
  afterEach(() => {
    if (before === undefined) delete process.env.CRTOOL_THREADS;
    else process.env.CRTOOL_THREADS = before;
  });

  it("is four (two on a single CPU) unless CRTOOL_THREADS says", () => {
    delete process.env.CRTOOL_THREADS;
    expect(largeMapThreads()).toBe(availableParallelism() >= 2 ? 4 : 2);
    process.env.CRTOOL_THREADS = "3";
    expect(largeMapThreads()).toBe(3);
    process.env.CRTOOL_THREADS = "16";
    expect(largeMapThreads()).toBe(16);
  });

  it("ignores a count that is not 1 to 16", () => {
    const dflt = (delete process.env.CRTOOL_THREADS, largeMapThreads());
    for (const bad of ["0", "17", "2.5", "four", ""]) {
      process.env.CRTOOL_THREADS = bad;
      expect(largeMapThreads(), bad).toBe(dflt);
    }
  });
});

describe("evenRanges", () => {
  it("cuts [0, total) into consecutive ranges that differ by at most one", () => {
    expect(evenRanges(10, 3)).toEqual([[0, 3], [3, 6], [6, 10]]);
    for (const [total, parts] of [[1_048_576, 4], [200_000, 3], [7, 7], [5, 1]]) {
      const r = evenRanges(total, parts);
      expect(r).toHaveLength(parts);
      expect(r[0]![0]).toBe(0);
      expect(r.at(-1)![1]).toBe(total);
      for (let i = 1; i < parts; i++) expect(r[i]![0]).toBe(r[i - 1]![1]);
      const sizes = r.map(([a, b]) => b - a);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });
});
