/**
 * The progress bar of `crtool dump`: on stderr for maps over 100,000
 * entries, only when stderr is a terminal (here a pseudo-terminal made by
 * util-linux's script), never in a pipe; and `--timings`, the phases of a
 * dump (and of a restore of it) on stderr.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { rmSync } from "node:fs";
import { IS_ROOT, scratch } from "../fds/helpers.js";
import { bpffsDir } from "../kernel/helpers.js";
import { startHolder, u32hex, u64hex, type Holder } from "../bpf/harness.js";

const HAVE_SCRIPT = spawnSync("script", ["--version"]).status === 0;
const reason = !IS_ROOT ? "not running as root" : !HAVE_SCRIPT ? "util-linux's script is not installed (it makes the terminal)" : undefined;
if (reason) console.warn(`skipping progress bar tests: ${reason}`);

describe.skipIf(reason)("dump progress bar", () => {
  let holder: Holder;
  let work: ReturnType<typeof scratch>;
  beforeAll(async () => {
    work = scratch("progress");
    const elements = Array.from({ length: 2000 }, (_, i): [string, string] => [u32hex(i), u64hex(BigInt(i))]);
    holder = await startHolder([{ name: "big", type: "HASH", keySize: 4, valueSize: 8, maxEntries: 150_000, elements }]);
  }, 60_000);
  afterAll(async () => {
    await holder?.stop();
    work?.cleanup();
  });

  it("is drawn on a terminal for a map over 100,000 entries", () => {
    const dir = join(work.dir, "tty");
    const cmd = `'${process.execPath}' '${join(REPO_ROOT, "dist", "cli", "crtool.js")}' dump -t ${holder.pid} -D '${dir}'`;
    const r = spawnSync("script", ["-q", "-e", "-c", cmd, "/dev/null"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`BPF map ${holder.maps.big.id} (HASH) [`);
    expect(r.stdout).toMatch(/\d+%/);
  });

  it("is not drawn when stderr is not a terminal", () => {
    const r = runCli("crtool", ["dump", "-t", String(holder.pid), "-D", join(work.dir, "pipe")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("--timings prints each phase of the dump, in order, adding up to the time at exit", () => {
    const r = runCli("crtool", ["dump", "-t", String(holder.pid), "-D", join(work.dir, "timed"), "--timings"]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^timings \(ms\)/);
    const phases = lines.slice(1).map((l) => /^\s*([\d.]+)  (.*?)\s+([\d.]+)$/.exec(l)!);
    const names = phases.map((m) => m[2]);
    const id = holder.maps.big.id;
    expect(names).toEqual(["start-up (node, modules, arguments)", "dump modules loaded", "freeze", `map ${id}: opened, record made`, `map ${id}: read 2000 elements`, `map ${id}: written`, "fd tables and contents", "images closed, directory committed", "thaw", "exit"]);
    const sum = phases.reduce((n, m) => n + Number(m[1]), 0);
    expect(Math.abs(sum - Number(phases.at(-1)![3]))).toBeLessThan(0.1 * phases.length);
  });

  /** The phases --timings printed: [milliseconds, name, at]. */
  function timings(stderr: string): [number, string, number][] {
    const lines = stderr.slice(stderr.indexOf("timings (ms)")).trim().split("\n");
    expect(lines[0]).toMatch(/^timings \(ms\)/);
    return lines.slice(1).map((l) => {
      const m = /^\s*([\d.]+)  (.*?)\s+([\d.]+)$/.exec(l);
      expect(m, l).not.toBeNull();
      return [Number(m![1]), m![2], Number(m![3])];
    });
  }

  it("restore --timings prints the phases of a --pin restore and of a command's", () => {
    const dir = join(work.dir, "timed");
    const id = holder.maps.big.id;
    const fs = bpffsDir();
    if (fs) {
      try {
        const r = runCli("crtool", ["restore", "-D", dir, "--pin", fs.dir, "--timings"]);
        expect(r.status, r.stderr).toBe(0);
        expect(timings(r.stderr).map((p) => p[1])).toEqual(["start-up (node, modules, arguments)", "restore modules loaded", "images read, pins planned", `map ${id}: created`, `map ${id}: loaded 2000 elements`, "maps pinned", "exit"]);
      } finally {
        rmSync(join(fs.dir, "big"), { force: true });
        fs.cleanup();
      }
    }
    const r = runCli("crtool", ["restore", "-D", dir, "--skip-unsupported", "--timings", "--", "true"]);
    expect(r.status, r.stderr).toBe(0);
    const phases = timings(r.stderr);
    const names = phases.map((p) => p[1]);
    expect(names.slice(0, 2)).toEqual(["start-up (node, modules, arguments)", "restore modules loaded"]);
    expect(names).toContain(`map ${id}: loaded 2000 elements`);
    expect(names.slice(-3)).toEqual(["fds restored", "command started", "exit"]);
    const sum = phases.reduce((n, p) => n + p[0], 0);
    expect(Math.abs(sum - phases.at(-1)![2])).toBeLessThan(0.1 * phases.length);
  });
});
