/**
 * The ptrace freezer stops every thread of a tree (all are interrupted
 * before any is waited for) and lets every one of them go on release.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { Freezer } from "../../src/checkpoint/freezer.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { startThreaded, stopAll, threadStates } from "./threaded-process.js";

if (!IS_ROOT) console.warn("skipping ptrace freezer tests: not running as root");

const children: ChildProcess[] = [];
afterAll(() => stopAll(children));

describe.skipIf(!IS_ROOT)("ptrace freezer", () => {
  it("stops every thread, and lets every one go", async () => {
    const pid = await startThreaded(children);
    const before = threadStates(pid);
    expect(before.size).toBeGreaterThanOrEqual(5);
    const freezer = new Freezer(() => {}, "ptrace");
    const tree = freezer.freeze(pid);
    try {
      expect(tree.map((p) => p.pid)).toEqual([pid]);
      const frozen = threadStates(pid);
      expect([...frozen.keys()].sort()).toEqual([...before.keys()].sort());
      expect([...frozen.values()].every((s) => s.state === "t" && s.tracer === process.pid), JSON.stringify([...frozen])).toBe(true);
    } finally {
      freezer.release(false);
    }
    const after = threadStates(pid);
    expect([...after.values()].some((s) => s.state === "t" || s.tracer !== 0), JSON.stringify([...after])).toBe(false);
  });
});
