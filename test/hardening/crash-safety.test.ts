/**
 * Crash safety: `crtool dump` killed with SIGKILL at random moments. The
 * final directory is either complete and valid or absent; what a killed dump
 * leaves is a recognisable temporary directory that the next dump to the
 * same place removes; and the target never stays frozen (ptrace tracees are
 * released by the kernel when their tracer dies).
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { IS_ROOT, scratch } from "../fds/helpers.js";
import { readImageMessages } from "../../src/images/index.js";

if (!IS_ROOT) console.warn("skipping crash-safety test: not running as root");

const TRIALS = 100;
const ENTRIES = 200_000;
const cleanups: (() => void)[] = [];
afterAll(() => cleanups.splice(0).reverse().forEach((f) => f()));

function tracer(pid: number): { state: string; tracer: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  return { state: /^State:\s+(\S)/m.exec(s)![1], tracer: Number(/^TracerPid:\s+(\d+)/m.exec(s)![1]) };
}

async function complete(dir: string): Promise<void> {
  const names = readdirSync(dir);
  for (const n of ["inventory.img", "pstree.img", "files.img", "bpfmap-data.img"]) expect(names, dir).toContain(n);
  for (const n of names) await readImageMessages(readFileSync(join(dir, n)), n);
  const data = await readImageMessages(readFileSync(join(dir, "bpfmap-data.img")));
  expect(data[0].count).toBe(ENTRIES);
}

describe.skipIf(!IS_ROOT)("crash safety", () => {
  it(`${TRIALS} dumps killed at random moments`, async () => {
    const s = scratch("crash");
    cleanups.push(s.cleanup);
    const script = join(s.dir, "holder.mjs");
    writeFileSync(script, `
      import { mapCreate, mapUpdateBatch } from ${JSON.stringify(join(REPO_ROOT, "dist/kernel/index.js"))};
      const fd = mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: ${ENTRIES} });
      const keys = Buffer.alloc(4 * ${ENTRIES}), values = Buffer.alloc(8 * ${ENTRIES});
      for (let i = 0; i < ${ENTRIES}; i++) { keys.writeUInt32LE(i, 4 * i); values.writeUInt32LE(i, 8 * i); }
      mapUpdateBatch(fd, { keySize: 4, valueSize: 8, keys, values, count: ${ENTRIES} });
      console.log("ready");
      setInterval(() => {}, 1 << 30);
    `);
    const target: ChildProcess = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    cleanups.push(() => target.kill("SIGKILL"));
    await new Promise((r) => target.stdout!.once("data", r));

    // A fixed sequence of delays spread over crtool's run (start-up, freeze, reading, writing, rename).
    let seed = 12345;
    const delay = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 400);
    let completed = 0;
    let absent = 0;
    for (let i = 0; i < TRIALS; i++) {
      const dir = join(s.dir, `d${i}`);
      const crtool = spawn(process.execPath, [join(REPO_ROOT, "dist/cli/crtool.js"), "dump", "-t", String(target.pid), "-D", dir], { stdio: "ignore" });
      await new Promise((r) => setTimeout(r, delay()));
      crtool.kill("SIGKILL");
      await new Promise((r) => (crtool.exitCode !== null || crtool.signalCode !== null ? r(undefined) : crtool.once("exit", r)));
      if (existsSync(dir)) {
        await complete(dir);
        completed++;
      } else {
        absent++;
      }
      // Released within a bounded time (the kernel detaches a dead tracer's tracees at once).
      let t = tracer(target.pid!);
      for (let w = 0; w < 100 && (t.tracer !== 0 || t.state === "t"); w++) {
        await new Promise((r) => setTimeout(r, 10));
        t = tracer(target.pid!);
      }
      expect(t.tracer, `trial ${i}`).toBe(0);
      expect(t.state, `trial ${i}`).not.toBe("t");
    }
    expect(completed + absent).toBe(TRIALS);
    // Both outcomes happened: the kills landed before and after the rename.
    expect(completed).toBeGreaterThan(0);
    expect(absent).toBeGreaterThan(0);

    // Leftovers are named after their directory; the next dump there removes them.
    const leftovers = readdirSync(s.dir).filter((f) => /^\.d\d+\.crtool-tmp-\d+$/.test(f));
    for (const left of leftovers.slice(0, 5)) {
      const name = /^\.(d\d+)\./.exec(left)![1];
      const r = runCli("crtool", ["dump", "-t", String(target.pid), "-D", join(s.dir, name)]);
      expect(r.status, r.stderr).toBe(0);
      expect(existsSync(join(s.dir, left))).toBe(false);
      await complete(join(s.dir, name));
    }
  }, 180_000);
});
