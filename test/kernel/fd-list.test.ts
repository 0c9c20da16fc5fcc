/**
 * listOpenFds (getdents64 parsed in place) against fs.readdirSync of the
 * same directory: the same fds, in order, for a table of a few fds and for
 * one of thousands (more than one getdents64 call's worth).
 */
import { describe, expect, it } from "vitest";
import { closeSync, openSync, readFileSync, readdirSync } from "node:fs";
import { listOpenFds } from "../../src/kernel/index.js";

function readdirFds(pid: number | "self"): number[] {
  return readdirSync(`/proc/${pid}/fd`)
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => a - b);
}

describe("listOpenFds", () => {
  it("lists this process's fds as readdir does", () => {
    // Both open the directory, so each sees its own fd for it: compare without those two.
    const ours = listOpenFds("self");
    const theirs = readdirFds("self");
    const common = (l: number[], other: number[]) => l.filter((fd) => other.includes(fd));
    expect(common(ours, theirs)).toEqual(common(theirs, ours));
    expect(ours.length).toBeGreaterThanOrEqual(3);
    expect(ours).toEqual([...ours].sort((a, b) => a - b));
  });

  it("lists thousands of fds, over more than one read of the directory (~8,000 entries fit in one)", () => {
    // Node raises its soft fd limit to the hard one at start-up; stay below it.
    const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? 1024);
    const count = Math.min(12_000, limit - 256);
    const opened: number[] = [];
    try {
      for (let i = 0; i < count; i++) opened.push(openSync("/dev/null", "r"));
      const listed = listOpenFds("self");
      const set = new Set(listed);
      for (const fd of opened) expect(set.has(fd)).toBe(true);
      expect(listed).toEqual([...listed].sort((a, b) => a - b));
      expect(listed.length).toBeGreaterThan(count);
    } finally {
      for (const fd of opened) closeSync(fd);
    }
  });

  it("fails as opening the directory fails for a process that does not exist", () => {
    let code: string | undefined;
    try {
      listOpenFds(2 ** 22 + 12345);
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code;
    }
    expect(code).toBe("ENOENT");
  });
});
