/**
 * The ptrace freezer stops every thread of a tree (all are interrupted
 * before any is waited for) and lets every one of them go on release.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { Freezer } from "../../src/checkpoint/freezer.js";
import { IS_ROOT } from "../kernel/helpers.js";

if (!IS_ROOT) console.warn("skipping ptrace freezer tests: not running as root");

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
});

/** Each thread's state letter from /proc/PID/task/TID/stat ("t": stopped by a tracer). */
function threadStates(pid: number): Map<number, string> {
  const states = new Map<number, string>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    states.set(Number(tid), stat.slice(stat.lastIndexOf(")") + 2)[0]!);
  }
  return states;
}

/** A process with several threads: four workers spinning on and off, beside Node's own threads. */
async function startThreaded(): Promise<number> {
  const src = `const { Worker } = require("node:worker_threads");
    for (let i = 0; i < 4; i++) new Worker("for (;;) { const t = Date.now(); while (Date.now() - t < 2) {} Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3); }", { eval: true });
    setTimeout(() => process.stdout.write("ready\\n"), 200);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["-e", src], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`the threaded process exited (${code})`)));
  });
  return child.pid!;
}

describe.skipIf(!IS_ROOT)("ptrace freezer", () => {
  it("stops every thread, and lets every one go", async () => {
    const pid = await startThreaded();
    const before = threadStates(pid);
    expect(before.size).toBeGreaterThanOrEqual(5);
    const freezer = new Freezer(() => {}, "ptrace");
    const tree = freezer.freeze(pid);
    try {
      expect(tree.map((p) => p.pid)).toEqual([pid]);
      const frozen = threadStates(pid);
      expect([...frozen.keys()].sort()).toEqual([...before.keys()].sort());
      expect([...frozen.values()].every((s) => s === "t"), JSON.stringify([...frozen])).toBe(true);
    } finally {
      freezer.release(false);
    }
    const after = threadStates(pid);
    expect([...after.values()].some((s) => s === "t"), JSON.stringify([...after])).toBe(false);
  });
});
