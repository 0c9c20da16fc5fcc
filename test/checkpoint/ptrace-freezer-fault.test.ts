/**
 * A freeze that fails with its tasks interrupted and none waited for
 * (CRTOOL_FAULT=stop-wait) leaves none of them stopped or traced once
 * released, while crtool's process lives on (a library caller's case:
 * the kernel's own detach at exit does not come).
 */
import { afterAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { Freezer } from "../../src/checkpoint/freezer.js";
import { InjectedFault } from "../../src/debug/hooks.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { startThreaded, stopAll, threadStates } from "./threaded-process.js";

if (!IS_ROOT) console.warn("skipping ptrace freezer fault test: not running as root");

const children: ChildProcess[] = [];
afterAll(() => stopAll(children));

describe.skipIf(!IS_ROOT)("ptrace freezer, failing mid-freeze", () => {
  it("releases tasks it interrupted but never waited for", async () => {
    const pid = await startThreaded(children);
    // Read by the hooks on first use, in this test file's own module instance.
    process.env.CRTOOL_FAULT = "stop-wait";
    const freezer = new Freezer(() => {}, "ptrace");
    try {
      expect(() => freezer.freeze(pid)).toThrow(InjectedFault);
    } finally {
      freezer.release(false);
      delete process.env.CRTOOL_FAULT;
    }
    const after = threadStates(pid);
    expect(after.size).toBeGreaterThanOrEqual(5);
    expect([...after.values()].some((s) => s.state === "t" || s.tracer !== 0), JSON.stringify([...after])).toBe(false);
  });
});
