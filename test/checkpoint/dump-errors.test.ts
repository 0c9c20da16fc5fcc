/**
 * `crtool dump` failure paths: each a one-line error, exit 1, no directory at
 * the final path, no temporary directory left, and the target running again.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { IS_ROOT, scratch } from "../fds/helpers.js";

if (!IS_ROOT) console.warn("skipping dump error tests: not running as root");

const CRTOOL = join(REPO_ROOT, "dist", "cli", "crtool.js");
const cleanups: (() => void)[] = [];
afterAll(() => cleanups.splice(0).reverse().forEach((f) => f()));

function sleeper(): ChildProcess {
  const child = spawn("sleep", ["600"], { stdio: "ignore" });
  cleanups.push(() => child.kill("SIGKILL"));
  return child;
}

/** A process holding a BPF hash map with `entries` 64-byte values. */
async function mapHolder(dir: string, entries: number): Promise<ChildProcess> {
  const script = join(dir, "holder.mjs");
  writeFileSync(script, `
    import { mapCreate, mapUpdateElem } from ${JSON.stringify(join(REPO_ROOT, "dist/kernel/index.js"))};
    const fd = mapCreate({ mapType: "HASH", keySize: 4, valueSize: 64, maxEntries: ${entries} });
    const k = Buffer.alloc(4), v = Buffer.alloc(64, 7);
    for (let i = 0; i < ${entries}; i++) { k.writeUInt32LE(i); mapUpdateElem(fd, k, v); }
    console.log("ready");
    setInterval(() => {}, 1 << 30);
  `);
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
  cleanups.push(() => child.kill("SIGKILL"));
  await new Promise((resolve) => child.stdout!.once("data", resolve));
  return child;
}

function state(pid: number): { state: string; tracer: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  return { state: /^State:\s+(\S)/m.exec(s)![1], tracer: Number(/^TracerPid:\s+(\d+)/m.exec(s)![1]) };
}

function oneLine(stderr: string): void {
  expect(stderr.split("\n").filter((l) => l !== "")).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
}

function nothingLeft(dir: string): void {
  expect(existsSync(dir)).toBe(false);
  const parent = join(dir, "..");
  expect(readdirSync(parent).filter((f) => f.includes(".crtool-tmp-"))).toEqual([]);
}

describe.skipIf(!IS_ROOT)("crtool dump errors", () => {
  it("a misspelt test hook (CRTOOL_FAULT/PAUSE/PLAIN) is refused before anything runs", () => {
    const child = sleeper();
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    const dir = join(s.dir, "d");
    const r = spawnSync(process.execPath, [CRTOOL, "dump", "-t", String(child.pid), "-D", dir], { encoding: "utf8", env: { ...process.env, CRTOOL_PAUSE: "after-freez:100" } });
    expect(r.status).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toBe('crtool: CRTOOL_PAUSE: unknown name "after-freez" (known: after-freeze, before-commit, before-exec, helper-start)\n');
    nothingLeft(dir);
  });

  it("a usage mistake found by the command itself is a one-line error with status 1, not an internal error", () => {
    const r = spawnSync(process.execPath, [CRTOOL, "dump", "-D", "/nonexistent/d"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("crtool: dump needs -t PID (or --pinned BPFFS_DIR)\n");
  });

  it("no such process", () => {
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    const r = runCli("crtool", ["dump", "-t", "4194000", "-D", join(s.dir, "d")]);
    expect(r.status).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/process 4194000 does not exist/);
    nothingLeft(join(s.dir, "d"));
  });

  it("a tree that holds crtool itself (`crtool dump -t $$` from a shell) is refused before anything is stopped", () => {
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    const dir = join(s.dir, "d");
    // `; true`: bash runs node as its child instead of exec'ing it.
    const r = spawnSync("bash", ["-c", `"${process.execPath}" "${CRTOOL}" dump -v -t $$ -D "${dir}"; true`], { encoding: "utf8" });
    const lines = r.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(/^crtool: process (\d+)'s tree holds crtool itself \(process (\d+)\): run crtool from outside the tree it dumps$/);
    expect(r.stderr).toMatch(/^resumed 0 task\(s\)$/m);
    nothingLeft(dir);
    const self = spawnSync("bash", ["-c", `exec "${process.execPath}" "${CRTOOL}" dump -t $$ -D "${dir}"`], { encoding: "utf8" });
    expect(self.stderr).toBe("crtool: crtool cannot dump itself\n");
    expect(self.status).toBe(1);
  });

  it("a target another process traces already: the tracer is named", async () => {
    const child = sleeper();
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    // A tracer of our own: PTRACE_SEIZE (the target keeps running), then wait to be killed.
    const tracer = spawn(process.execPath, ["--input-type=module", "-e", `
      const k = await import(${JSON.stringify(join(REPO_ROOT, "dist", "kernel", "index.js"))});
      k.ptraceSeize(${child.pid});
      console.log("seized");
      setInterval(() => {}, 1 << 30);
    `], { stdio: ["ignore", "pipe", "inherit"] });
    cleanups.push(() => tracer.kill("SIGKILL"));
    await new Promise((resolve) => tracer.stdout!.once("data", resolve));
    const dir = join(s.dir, "d");
    const r = runCli("crtool", ["dump", "-t", String(child.pid), "-D", dir]);
    expect(r.status).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toBe(`crtool: cannot trace process ${child.pid} (task ${child.pid}): it is already traced by process ${tracer.pid} (node); a task has one tracer at a time\n`);
    nothingLeft(dir);
  });

  it("a directory that is not empty", () => {
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    mkdirSync(join(s.dir, "d"));
    writeFileSync(join(s.dir, "d", "keep"), "x");
    const r = runCli("crtool", ["dump", "-t", String(sleeper().pid), "-D", join(s.dir, "d")]);
    expect(r.status).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/directory is not empty/);
    expect(readdirSync(join(s.dir, "d"))).toEqual(["keep"]);
  });

  it("not permitted: an unprivileged user dumping a root process is told what is missing", () => {
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    chmodSync(s.dir, 0o1777);
    const target = sleeper();
    const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, CRTOOL, "dump", "-t", String(target.pid), "-D", join(s.dir, "d")], { encoding: "utf8" });
    expect(r.status).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/not permitted to trace process \d+.*CAP_SYS_PTRACE/);
    nothingLeft(join(s.dir, "d"));
    expect(state(target.pid!).tracer).toBe(0);
  });

  it("the target exits during the dump", async () => {
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    const target = sleeper();
    const crtool = spawn(process.execPath, [CRTOOL, "dump", "-t", String(target.pid), "-D", join(s.dir, "d")], {
      env: { ...process.env, CRTOOL_PAUSE: "after-freeze:1500" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    crtool.stderr!.on("data", (d) => (stderr += d));
    while (state(target.pid!).tracer === 0) await new Promise((r) => setTimeout(r, 20));
    target.kill("SIGKILL");
    const code = await new Promise((r) => crtool.once("exit", r));
    expect(code).toBe(1);
    oneLine(stderr);
    expect(stderr).toMatch(/exited during the dump|does not exist/);
    nothingLeft(join(s.dir, "d"));
  });

  it("disk full", async () => {
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    const small = join(s.dir, "small");
    mkdirSync(small);
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=32k", "tmpfs", small]).status).toBe(0);
    cleanups.push(() => spawnSync("umount", [small]));
    const target = await mapHolder(s.dir, 2000);
    const r = runCli("crtool", ["dump", "-t", String(target.pid), "-D", join(small, "d"), "--skip-unsupported"]);
    expect(r.status).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/no space left on device/);
    nothingLeft(join(small, "d"));
    expect(readdirSync(small)).toEqual([]);
    expect(state(target.pid!).tracer).toBe(0);
  });

  it("SIGTERM during the dump: the target runs again and nothing is left", async () => {
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    const target = sleeper();
    const crtool = spawn(process.execPath, [CRTOOL, "dump", "-t", String(target.pid), "-D", join(s.dir, "d")], {
      env: { ...process.env, CRTOOL_PAUSE: "after-freeze:5000" },
      stdio: "ignore",
    });
    while (state(target.pid!).tracer === 0) await new Promise((r) => setTimeout(r, 20));
    crtool.kill("SIGTERM");
    const code = await new Promise((r) => crtool.once("exit", (c, sig) => r(c ?? sig)));
    expect(code).toBe(143);
    expect(state(target.pid!)).toEqual({ state: "S", tracer: 0 });
    nothingLeft(join(s.dir, "d"));
  });

  it("the tree runs again after a dump, or stays stopped with --leave-stopped; DIR 0700, images 0600", async () => {
    const s = scratch("dump-err");
    cleanups.push(s.cleanup);
    const target = await mapHolder(s.dir, 10);
    const r = runCli("crtool", ["dump", "-t", String(target.pid), "-D", join(s.dir, "d"), "--skip-unsupported"]);
    expect(r.status, r.stderr).toBe(0);
    expect(state(target.pid!).tracer).toBe(0);
    expect(state(target.pid!).state).not.toBe("t");
    expect(statSync(join(s.dir, "d")).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(join(s.dir, "d"))) expect(statSync(join(s.dir, "d", f)).mode & 0o777, f).toBe(0o600);
    const stopped = runCli("crtool", ["dump", "-t", String(target.pid), "-D", join(s.dir, "d2"), "--skip-unsupported", "--leave-stopped"]);
    expect(stopped.status, stopped.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(state(target.pid!)).toEqual({ state: "T", tracer: 0 });
    target.kill("SIGCONT");
  });
});
