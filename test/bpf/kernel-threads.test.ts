import { availableParallelism } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { largeMapThreads } from "../../src/bpf/kernel-threads.js";

describe("largeMapThreads", () => {
  const before = process.env.CRTOOL_THREADS;
  afterEach(() => {
    if (before === undefined) delete process.env.CRTOOL_THREADS;
    else process.env.CRTOOL_THREADS = before;
  });

  it("is one per CPU, from two to four, unless CRTOOL_THREADS says", () => {
    delete process.env.CRTOOL_THREADS;
    expect(largeMapThreads()).toBe(Math.max(2, Math.min(4, availableParallelism())));
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
