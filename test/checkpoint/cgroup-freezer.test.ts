/**
 * Freezing with the cgroup v2 freezer: a tree that is exactly one cgroup's
 * content is frozen through it (and thawed, or left frozen with
 * --leave-stopped); a cgroup that also holds a bystander falls back to
 * ptrace, or with --freezer cgroup is a one-line error; a crtool killed
 * while the cgroup is frozen leaves it thawed by its watchdog.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { IS_ROOT, scratch } from "../fds/helpers.js";
import { cgroup2Mount, cgroupFrozen } from "../../src/kernel/index.js";

const CRTOOL = join(REPO_ROOT, "dist", "cli", "crtool.js");
const mount = IS_ROOT ? cgroup2Mount() : undefined;
const reason = !IS_ROOT ? "not running as root" : !mount ? "no cgroup v2 hierarchy is mounted" : undefined;
if (reason) console.warn(`skipping cgroup freezer tests: ${reason}`);

const children: ChildProcess[] = [];
/** Processes that are not this test's children (the shells' sleeps), ended by pid. */
const grandchildren: number[] = [];
const cgroups: string[] = [];
let work: ReturnType<typeof scratch>;

afterAll(async () => {
  for (const pid of grandchildren) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
  for (const dir of cgroups.reverse()) {
    if (!existsSync(dir)) continue;
    writeFileSync(join(dir, "cgroup.freeze"), "0");
    // The killed processes leave the cgroup as they are reaped.
    for (let i = 0; i < 100 && readFileSync(join(dir, "cgroup.procs"), "utf8").trim() !== ""; i++) await new Promise((r) => setTimeout(r, 20));
    rmdirSync(dir);
  }
  work?.cleanup();
});

/** A new cgroup holding a two-process tree: a shell and its child sleep. */
async function treeInCgroup(name: string): Promise<{ cgroup: string; root: number; child: number }> {
  const cgroup = join(mount!, `crtool-test-${process.pid}-${name}`);
  mkdirSync(cgroup);
  cgroups.push(cgroup);
  const sh = spawn("/bin/sh", ["-c", "sleep 600 & wait"], { stdio: "ignore" });
  children.push(sh);
  let child = 0;
  for (let i = 0; i < 200 && !child; i++) {
    await new Promise((r) => setTimeout(r, 10));
    child = Number(readFileSync(`/proc/${sh.pid}/task/${sh.pid}/children`, "utf8").trim().split(" ")[0] || 0);
  }
  expect(child).toBeGreaterThan(0);
  grandchildren.push(child);
  writeFileSync(join(cgroup, "cgroup.procs"), String(sh.pid));
  writeFileSync(join(cgroup, "cgroup.procs"), String(child));
  return { cgroup, root: sh.pid!, child };
}

function dumpArgs(root: number, dir: string, extra: string[] = []): string[] {
  return ["dump", "-v", "--json", "-t", String(root), "-D", dir, ...extra];
}

/** A dump of `root` that waits `pauseMs` once the tree is frozen; resolves when it says it froze it. */
async function pausedDump(root: number, dir: string, pauseMs: number) {
  const crtool = spawn(process.execPath, [CRTOOL, ...dumpArgs(root, dir)], { env: { ...process.env, CRTOOL_PAUSE: `after-freeze:${pauseMs}` } });
  const run = { crtool, out: "", err: "", exited: new Promise<number | null>((r) => crtool.once("exit", (code) => r(code))) };
  crtool.stdout.on("data", (d) => (run.out += d));
  crtool.stderr.on("data", (d) => (run.err += d));
  for (let i = 0; i < 200 && !run.err.includes("froze"); i++) await new Promise((r) => setTimeout(r, 20));
  return run;
}

describe.skipIf(reason)("dump with the cgroup v2 freezer", () => {
  beforeAll(() => {
    work = scratch("cgroup-freezer");
  });

  it("freezes a tree that is its cgroup's whole content through the cgroup, and thaws it", async () => {
    const t = await treeInCgroup("whole");
    const run = await pausedDump(t.root, join(work.dir, "whole"), 1500);
    // While crtool reads the tree: frozen, and no tracer attached.
    expect(cgroupFrozen(t.cgroup)).toBe(true);
    expect(readFileSync(`/proc/${t.child}/status`, "utf8")).toMatch(/^TracerPid:\s+0$/m);
    expect(await run.exited, run.err).toBe(0);
    const summary = JSON.parse(run.out) as { freezer: string; cgroup: string; processes: number };
    expect(summary).toMatchObject({ freezer: "cgroup", cgroup: t.cgroup, processes: 2 });
    expect(run.err).toMatch(new RegExp(`froze 2 process\\(es\\) with the cgroup v2 freezer \\(${t.cgroup}\\)`));
    expect(cgroupFrozen(t.cgroup)).toBe(false);
  });

  it("--leave-stopped leaves the cgroup frozen and says how to thaw it", async () => {
    const t = await treeInCgroup("leave");
    const r = runCli("crtool", ["dump", "-t", String(t.root), "-D", join(work.dir, "leave"), "--leave-stopped"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.toString()).toContain(`frozen:   ${t.cgroup} (thaw it with: echo 0 > ${t.cgroup}/cgroup.freeze)`);
    expect(cgroupFrozen(t.cgroup)).toBe(true);
    writeFileSync(join(t.cgroup, "cgroup.freeze"), "0");
  });

  it("--freezer ptrace does not touch the cgroup", async () => {
    const t = await treeInCgroup("ptrace");
    const r = runCli("crtool", dumpArgs(t.root, join(work.dir, "ptrace"), ["--freezer", "ptrace"]));
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ freezer: "ptrace", processes: 2 });
    expect(r.stderr).toMatch(/froze 2 process\(es\), 2 task\(s\)/);
  });

  it("a cgroup that also holds a bystander: ptrace instead, or with --freezer cgroup a one-line error and no DIR", async () => {
    const t = await treeInCgroup("bystander");
    const other = spawn("sleep", ["600"], { stdio: "ignore" });
    children.push(other);
    writeFileSync(join(t.cgroup, "cgroup.procs"), String(other.pid));
    const auto = runCli("crtool", dumpArgs(t.root, join(work.dir, "bystander")));
    expect(auto.status, auto.stderr).toBe(0);
    expect(JSON.parse(auto.stdout.toString())).toMatchObject({ freezer: "ptrace", processes: 2 });
    expect(auto.stderr).toContain(`cgroup v2 freezer not used: cgroup ${t.cgroup} also holds process ${other.pid}, which is not in the dumped tree; freezing with ptrace`);
    const dir = join(work.dir, "bystander-strict");
    const strict = runCli("crtool", ["dump", "-t", String(t.root), "-D", dir, "--freezer", "cgroup"]);
    expect(strict.status).toBe(1);
    expect(strict.stderr.trim()).toBe(`crtool: --freezer cgroup: cgroup ${t.cgroup} also holds process ${other.pid}, which is not in the dumped tree`);
    expect(existsSync(dir)).toBe(false);
    expect(cgroupFrozen(t.cgroup)).toBe(false);
  });

  it("a tree in the root cgroup is frozen with ptrace, and --freezer cgroup says why not", () => {
    const sleeper = spawn("sleep", ["600"], { stdio: "ignore" });
    children.push(sleeper);
    const own = readFileSync(`/proc/${sleeper.pid}/cgroup`, "utf8");
    if (!/^0::\/$/m.test(own)) return; // this test runner lives in a cgroup of its own: nothing to check here
    const r = runCli("crtool", ["dump", "-t", String(sleeper.pid), "-D", join(work.dir, "rootcg"), "--freezer", "cgroup"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`crtool: --freezer cgroup: process ${sleeper.pid} is in the root cgroup, which cannot be frozen`);
  });

  it("SIGTERM while the cgroup is frozen: thawed, exit 1, no DIR", async () => {
    const t = await treeInCgroup("sigterm");
    const dir = join(work.dir, "sigterm");
    const run = await pausedDump(t.root, dir, 10_000);
    expect(cgroupFrozen(t.cgroup)).toBe(true);
    run.crtool.kill("SIGTERM");
    expect(await run.exited).not.toBe(0);
    expect(cgroupFrozen(t.cgroup)).toBe(false);
    expect(run.err).toMatch(/thawed /);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(work.dir).filter((f) => f.startsWith(".sigterm.crtool-tmp-"))).toEqual([]);
  });

  it("a crtool killed while the cgroup is frozen leaves it thawed (watchdog)", async () => {
    const t = await treeInCgroup("crash");
    const dir = join(work.dir, "crash");
    const run = await pausedDump(t.root, dir, 10_000);
    expect(cgroupFrozen(t.cgroup)).toBe(true);
    run.crtool.kill("SIGKILL");
    await run.exited;
    let thawed = false;
    for (let i = 0; i < 100 && !(thawed = !cgroupFrozen(t.cgroup)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(thawed).toBe(true);
    // What a SIGKILLed dump leaves is its temporary directory, never DIR.
    expect(existsSync(dir)).toBe(false);
    for (const f of readdirSync(work.dir).filter((f) => f.startsWith(".crash.crtool-tmp-"))) expect(f).toMatch(/^\.crash\.crtool-tmp-\d+$/);
  });
});
