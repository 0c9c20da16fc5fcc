/**
 * `crtool restore` as users run it: dump a process holding a map of every
 * type (and the cases that need care), kill it, restore into a new command
 * that reads its maps by fd number, and compare; restore CRIU 4.2's own
 * dumps; pin; and fail at every step leaving nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { FIXTURES, HAVE_FIXTURES, REPO_ROOT } from "../helpers/fixtures.js";
import { runCli } from "../helpers/run-cli.js";
import { IS_ROOT, scratch } from "../fds/helpers.js";
import { close, grabFd, mapGetFdById, mapGetInfo, mapIds } from "../../src/kernel/index.js";
import { snapshotMap, type MapSnapshot } from "../../src/demo/map-snapshot.js";

const HAVE_BPFTOOL = spawnSync("bpftool", ["version"]).status === 0;
if (!IS_ROOT) console.warn("skipping restore CLI tests: not running as root");

const DIST = join(REPO_ROOT, "dist");
const WORKLOADS = join(import.meta.dirname, "workloads");
const cleanups: (() => void)[] = [];
afterAll(() => cleanups.splice(0).reverse().forEach((f) => f()));

interface HeldMap {
  fd: number;
  type: string;
  name: string;
  sameAs?: number;
  readOnly?: boolean;
}

let prefix: string;
let dumpDir: string;
let maps: HeldMap[];
let before: Map<number, MapSnapshot>;
let bpffs: string;

function snapshotOf(pid: number, fd: number): MapSnapshot {
  const own = grabFd(pid, fd);
  try {
    const s = snapshotMap(own);
    if (s.type.endsWith("_OF_MAPS")) {
      s.elements = s.elements.map(([key, value]) => {
        const inner = runCliSnapshotInner(value);
        return [key, inner];
      });
    }
    return { ...s, fd };
  } finally {
    close(own);
  }
}

/** An inner map's elements, by its id (the outer map's value). */
function runCliSnapshotInner(value: string): string {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", `
    const k = await import(${JSON.stringify(join(DIST, "kernel/index.js"))});
    const { snapshotMap } = await import(${JSON.stringify(join(DIST, "demo/map-snapshot.js"))});
    const fd = k.mapGetFdById(${Buffer.from(value, "hex").readUInt32LE(0)});
    process.stdout.write(JSON.stringify(snapshotMap(fd).elements));
  `], { encoding: "utf8" });
  return r.stdout;
}

function restoreAndSnapshot(dir: string, fds: number[], extra: string[] = [], env: NodeJS.ProcessEnv = process.env) {
  const out = join(dir, "..", `snapshot-${randomBytes(3).toString("hex")}.json`);
  const r = spawnSync(process.execPath, [join(DIST, "cli/crtool.js"), "restore", "-D", dir, ...extra, "--", process.execPath, join(WORKLOADS, "snapshot-fds.mjs"), DIST, out, ...fds.map(String)], { encoding: "utf8", env });
  return { ...r, snapshots: existsSync(out) ? (JSON.parse(readFileSync(out, "utf8")) as (MapSnapshot & { id: number; btf: boolean; error?: string })[]) : [] };
}

/** Maps on the system whose name starts with the prefix (none may survive a failed restore). */
function mapsNamed(p: string): string[] {
  const names: string[] = [];
  for (const id of mapIds()) {
    let fd: number;
    try {
      fd = mapGetFdById(id);
    } catch {
      continue; // freed meanwhile
    }
    try {
      const { name } = mapGetInfo(fd);
      if (name.startsWith(p)) names.push(name);
    } finally {
      close(fd);
    }
  }
  return names;
}

describe.skipIf(!IS_ROOT)("crtool restore", () => {
  beforeAll(async () => {
    const s = scratch("restore-cli");
    cleanups.push(s.cleanup);
    prefix = `t${randomBytes(2).toString("hex")}`;
    const ready = join(s.dir, "ready.json");
    const child: ChildProcess = spawn(process.execPath, [join(WORKLOADS, "all-maps.mjs"), join(DIST, "kernel/index.js"), ready, prefix], { stdio: "ignore" });
    cleanups.push(() => child.kill("SIGKILL"));
    for (let i = 0; !existsSync(ready); i++) {
      if (i > 500) throw new Error("the workload did not get ready");
      await new Promise((r) => setTimeout(r, 20));
    }
    const info = JSON.parse(readFileSync(ready, "utf8")) as { pid: number; maps: HeldMap[] };
    maps = info.maps;
    before = new Map(maps.map((m) => [m.fd, snapshotOf(info.pid, m.fd)]));
    dumpDir = join(s.dir, "dump");
    const d = runCli("crtool", ["dump", "-t", String(info.pid), "-D", dumpDir]);
    expect(d.status, d.stderr).toBe(0);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    bpffs = join(s.dir, "bpffs");
    mkdirSync(bpffs);
    expect(spawnSync("mount", ["-t", "bpf", "bpf", bpffs]).status).toBe(0);
    cleanups.push(() => spawnSync("umount", [bpffs]));
  }, 60_000);

  it("a command that cannot run is refused saying why", () => {
    for (const [cmd, why] of [
      ["no-such-command-here", "no such command"],
      ["/nonexistent/cmd", "no such file"],
      [REPO_ROOT, "is a directory"],
      [join(REPO_ROOT, "package.json"), "not executable (permission denied)"],
    ]) {
      const r = runCli("crtool", ["restore", "-D", dumpDir, "--", cmd]);
      expect(r.status, cmd).toBe(1);
      expect(r.stderr).toBe(`crtool: cannot run ${cmd}: ${why}\n`);
    }
  });

  it("every map type comes back identical, at its fd number, with --verify", () => {
    const r = restoreAndSnapshot(dumpDir, maps.map((m) => m.fd), ["--verify"]);
    expect(r.status, r.stderr).toBe(0);
    // The summary (stderr: stdout is the command's) says what came back and that --verify checked it.
    const lines = r.stderr.trimEnd().split("\n");
    // Node's own fds (pipes, eventfds, epoll) vary from run to run: the dump says how many there were.
    const fdinfo = readdirSync(dumpDir).find((f) => /^fdinfo-\d+\.img$/.test(f))!;
    const decoded = runCli("crit", ["decode", "-i", join(dumpDir, fdinfo)]);
    // fds 0-2 stay the caller's without --restore-stdio.
    const dumpedFds = (JSON.parse(decoded.stdout.toString()) as { entries: { fd: number }[] }).entries.filter((e) => e.fd > 2).length;
    expect(dumpedFds).toBeGreaterThan(maps.length);
    expect(lines[0]).toMatch(new RegExp(`^crtool: restored ${dumpedFds} fds of process \\d+ from .* in [\\d.]+ s \\(.*BPFMAP ${maps.length}.*\\); verified: every map equals its image$`));
    expect(lines.at(-1)).toMatch(/^crtool: {3}BPF maps: \d+ \(\d+ entries\)$/);
    for (const s of r.snapshots) {
      expect(s.error, `fd ${s.fd}`).toBeUndefined();
      const { id: _id, btf: _btf, ...rest } = s;
      void _id;
      void _btf;
      expect(rest, `fd ${s.fd} (${before.get(s.fd)!.type})`).toEqual(before.get(s.fd));
    }
    expect(new Set(r.snapshots.map((s) => s.type))).toEqual(new Set(["HASH", "ARRAY", "PERCPU_HASH", "PERCPU_ARRAY", "LRU_HASH", "LRU_PERCPU_HASH", "LPM_TRIE", "QUEUE", "STACK", "HASH_OF_MAPS", "ARRAY_OF_MAPS"]));
  });

  it("one map behind several open files stays one map; a read-only fd stays read-only; frozen stays frozen; BTF is kept", () => {
    const r = restoreAndSnapshot(dumpDir, maps.map((m) => m.fd));
    const byFd = new Map(r.snapshots.map((s) => [s.fd, s]));
    const shared = maps.filter((m) => m.name === `${prefix}_shared`);
    expect(shared).toHaveLength(3);
    expect(new Set(shared.map((m) => byFd.get(m.fd)!.id)).size).toBe(1);
    expect(byFd.get(shared.find((m) => m.readOnly)!.fd)!.access).toBe("O_RDONLY");
    expect(byFd.get(shared.find((m) => !m.readOnly && !m.sameAs)!.fd)!.access).toBe("O_RDWR");
    expect(byFd.get(maps.find((m) => m.name === `${prefix}_frozen`)!.fd)!.frozen).toBe(true);
    expect(byFd.get(maps.find((m) => m.name === `${prefix}_btf`)!.fd)!.btf).toBe(true);
  });

  it("--pin re-creates the maps pinned by name, never over an existing pin, and only on bpffs", () => {
    const dir = join(bpffs, "pins");
    mkdirSync(dir);
    const r = runCli("crtool", ["restore", "-D", dumpDir, "--pin", dir, "--verify"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(dir)).toContain(`${prefix}_hash`);
    if (HAVE_BPFTOOL) {
      const dump = JSON.parse(spawnSync("bpftool", ["map", "dump", "pinned", join(dir, `${prefix}_hash`), "-j"], { encoding: "utf8" }).stdout) as unknown[];
      expect(dump).toHaveLength(20);
    }
    const again = runCli("crtool", ["restore", "-D", dumpDir, "--pin", dir]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/exists/);
    const notBpffs = runCli("crtool", ["restore", "-D", dumpDir, "--pin", join(dumpDir, "..")]);
    expect(notBpffs.status).toBe(1);
    expect(notBpffs.stderr).toMatch(/not on a BPF filesystem|bpffs/);
    spawnSync("rm", ["-rf", dir]);
  });

  it("a dump of pinned maps restores to the paths it recorded", () => {
    const dir = join(bpffs, "recorded");
    mkdirSync(dir);
    expect(runCli("crtool", ["restore", "-D", dumpDir, "--pin", dir]).status).toBe(0);
    const pinned = join(dumpDir, "..", "pinned-dump");
    const d = runCli("crtool", ["dump", "--pinned", dir, "-D", pinned]);
    expect(d.status, d.stderr).toBe(0);
    const before = readdirSync(dir).sort();
    spawnSync("rm", ["-rf", dir]);
    try {
      const r = runCli("crtool", ["restore", "-D", pinned, "--pin-recorded", "--verify"]);
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(dir).sort()).toEqual(before);
    } finally {
      spawnSync("rm", ["-rf", dir]);
    }
  });

  it("SIGTERM during a restore undoes it", async () => {
    expect(mapsNamed(prefix)).toEqual([]);
    const crtool = spawn(process.execPath, [join(DIST, "cli/crtool.js"), "restore", "-D", dumpDir, "--", "true"], {
      env: { ...process.env, CRTOOL_PAUSE: "before-exec:5000" },
      stdio: "ignore",
    });
    // Wait until the maps exist (restored, waiting to exec), then stop crtool.
    for (let i = 0; i < 200 && mapsNamed(prefix).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(mapsNamed(prefix).length).toBeGreaterThan(0);
    crtool.kill("SIGTERM");
    const code = await new Promise((r) => crtool.once("exit", (c, s) => r(c ?? s)));
    expect(code).toBe(143);
    expect(mapsNamed(prefix)).toEqual([]);
  });

  for (const step of ["map-create", "batch-update", "freeze", "btf-load", "fd-install", "exec", "pin"]) {
    it(`a failure at "${step}" leaves nothing behind`, () => {
      const pinDir = join(bpffs, `fault-${step}`);
      mkdirSync(pinDir);
      const env = { ...process.env, CRTOOL_FAULT: step };
      const r = step === "pin"
        ? spawnSync(process.execPath, [join(DIST, "cli/crtool.js"), "restore", "-D", dumpDir, "--pin", pinDir], { encoding: "utf8", env })
        : restoreAndSnapshot(dumpDir, [maps[0].fd], [], env);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`injected failure at step "${step}"`));
      expect(readdirSync(pinDir)).toEqual([]);
      expect(mapsNamed(prefix)).toEqual([]);
    });
  }
});

describe.skipIf(!IS_ROOT || !HAVE_FIXTURES || !HAVE_BPFTOOL)("restoring CRIU 4.2's dumps", () => {
  function bpftoolElements(file: string): string[] {
    const list = JSON.parse(readFileSync(file, "utf8")) as { key: string[]; value: string[] }[];
    return list.map((e) => `${e.key.join("")}=${e.value.join("")}`).sort();
  }

  for (const scenario of ["bpf-basic", "bpf-flags"]) {
    it(`${scenario}: the maps equal the live process's bpftool dumps`, () => {
      const s = scratch("restore-fixture");
      cleanups.push(s.cleanup);
      const pins = join(s.dir, "bpffs");
      mkdirSync(pins);
      expect(spawnSync("mount", ["-t", "bpf", "bpf", pins]).status).toBe(0);
      cleanups.push(() => spawnSync("umount", [pins]));
      const r = runCli("crtool", ["restore", "-D", join(FIXTURES, scenario, "images"), "--pin", pins, "--verify"]);
      expect(r.status, r.stderr).toBe(0);
      const proc = join(FIXTURES, scenario, "proc", "bpftool");
      for (const show of readdirSync(proc).filter((f) => f.startsWith("map-show-"))) {
        const info = JSON.parse(readFileSync(join(proc, show), "utf8")) as { name: string };
        const dump = bpftoolElements(join(proc, show.replace("map-show", "map-dump")));
        const ours = JSON.parse(spawnSync("bpftool", ["map", "dump", "pinned", join(pins, info.name), "-j"], { encoding: "utf8" }).stdout) as { key: string[]; value: string[] }[];
        expect(ours.map((e) => `${e.key.join("")}=${e.value.join("")}`).sort(), info.name).toEqual(dump);
      }
    });
  }
});
