/**
 * What the restored command finds in its own fd table: FD_CLOEXEC on the
 * fds that had it, and epoll items keyed by its fd numbers (so that
 * EPOLL_CTL_MOD/DEL by those numbers work), even for numbers crtool's own
 * table was using when it restored them. Also the fallback when the command
 * cannot be traced, and a failure while fixing the fds (nothing runs).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { compile, scratch, skipReason } from "../fds/helpers.js";

const reason = skipReason() ?? (process.arch === "x64" ? undefined : `fds are fixed inside the command on x86_64 only (this is ${process.arch})`);
if (reason) console.warn(`skipping restore launch tests: ${reason}`);

interface Seen {
  cloexec: Map<number, number>;
  tfd: { tfd: number; events: string; data: string }[];
  mod: Map<number, number>;
}

function parse(text: string): Seen {
  const seen: Seen = { cloexec: new Map(), tfd: [], mod: new Map() };
  for (const line of text.split("\n")) {
    let m = /^fd (\d+) cloexec (\d)$/.exec(line);
    if (m) seen.cloexec.set(Number(m[1]), Number(m[2]));
    m = /^tfd:\s+(\d+) events:\s+(\S+) data:\s+(\S+)/.exec(line);
    if (m) seen.tfd.push({ tfd: Number(m[1]), events: m[2], data: m[3] });
    m = /^mod (\d+) (\d+)$/.exec(line);
    if (m) seen.mod.set(Number(m[1]), Number(m[2]));
  }
  seen.tfd.sort((a, b) => a.data.localeCompare(b.data));
  return seen;
}

/** Processes whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "latin1").includes(needle);
    } catch {
      return false;
    }
  }).map(Number);
}

describe.skipIf(reason)("the restored command's own fd table", () => {
  let work: ReturnType<typeof scratch>;
  let bin: string;
  let dump: string;
  let live: string;

  beforeAll(async () => {
    work = scratch("launch");
    bin = compile(join(import.meta.dirname, "workloads", "launch_fds.c"), work.dir, "launch_fds");
    const ready = join(work.dir, "ready");
    const holder = spawn(bin, ["hold", ready], { stdio: "ignore" });
    try {
      for (let i = 0; !existsSync(ready); i++) {
        if (i > 500) throw new Error("the workload did not get ready");
        await new Promise((r) => setTimeout(r, 10));
      }
      live = readFileSync(`/proc/${holder.pid}/fdinfo/7`, "utf8");
      dump = join(work.dir, "dump");
      const d = runCli("crtool", ["dump", "-t", String(holder.pid), "-D", dump]);
      expect(d.status, d.stderr).toBe(0);
    } finally {
      holder.kill("SIGKILL");
    }
  });

  afterAll(() => work?.cleanup());

  function restore(out: string, env: NodeJS.ProcessEnv = {}) {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, "dist", "cli", "crtool.js"), "restore", "-v", "-D", dump, "--", bin, "check", out], {
      encoding: "utf8",
      env: { ...process.env, ...env },
    });
    return { ...r, seen: existsSync(out) ? parse(readFileSync(out, "utf8")) : undefined };
  }

  it("has FD_CLOEXEC exactly where the dumped process had it", () => {
    const r = restore(join(work.dir, "out-cloexec"));
    expect(r.status, r.stderr).toBe(0);
    expect([...r.seen!.cloexec]).toEqual([[3, 1], [4, 0], [5, 1], [6, 0], [7, 1], [40, 0], [41, 1], [42, 1], [43, 1], [44, 0]]);
    expect(r.stderr).toMatch(/set FD_CLOEXEC on 6 fd\(s\)/);
  });

  it("has every epoll item under its recorded number, with its events and data, and EPOLL_CTL_MOD by that number works", () => {
    const r = restore(join(work.dir, "out-epoll"));
    expect(r.status, r.stderr).toBe(0);
    // 3, 5 and 6 are numbers Node itself holds: those items were added inside the command.
    expect(r.stderr).toMatch(/added [1-4] epoll item\(s\) inside/);
    expect(r.seen!.tfd).toEqual(parse(live).tfd);
    expect(r.seen!.tfd.map((t) => t.tfd).sort((a, b) => a - b)).toEqual([3, 5, 6, 40]);
    expect([...r.seen!.mod]).toEqual([[3, 0], [5, 0], [6, 0], [40, 0]]);
  });

  it("when the command cannot be traced, starts it anyway and says what is left undone", () => {
    const r = restore(join(work.dir, "out-plain"), { CRTOOL_PLAIN: "launch-trace" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/fds 3,5,7,41,42,43 start without FD_CLOEXEC \(CRTOOL_CLOEXEC_FDS lists them\); [1-4] epoll item\(s\) are registered under crtool's fd numbers/);
    expect([...r.seen!.cloexec.values()].every((c) => c === 0)).toBe(true);
    // Items added under crtool's numbers cannot be found by the command's: ENOENT.
    const enoent = [...r.seen!.mod].filter(([, e]) => e === 2).map(([fd]) => fd);
    expect(enoent.length).toBeGreaterThan(0);
    expect(r.seen!.tfd.map((t) => ({ events: t.events, data: t.data }))).toEqual(parse(live).tfd.map((t) => ({ events: t.events, data: t.data })));
  });

  it("a failure while fixing the fds kills the command before it runs and exits 1", () => {
    const out = join(work.dir, "out-fault");
    const r = restore(out, { CRTOOL_FAULT: "exec-fixup" });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^crtool: cannot set up .*launch_fds's fds: injected failure at step "exec-fixup"/);
    expect(existsSync(out)).toBe(false);
    expect(processesMentioning(out)).toEqual([]);
  });
});
