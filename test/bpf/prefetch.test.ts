/**
 * Many small maps are read on a second thread (src/bpf/read/prefetch.ts).
 * A dump that uses it must be byte for byte the dump made without it, and
 * the same when every map the thread read is read again the ordinary way
 * (its fallback); and the contents must be the maps' elements.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeImage } from "../../src/images/index.js";
import { possibleCpus } from "../../src/kernel/index.js";
import { dumpVerbose } from "../helpers/run-cli.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { IS_ROOT, countBpfFds } from "../kernel/helpers.js";
import { dump } from "../../src/checkpoint/dump.js";
import { HAVE_DIST, elementsOf, startHolder, u32hex, u64hex, type Holder, type MapPlan } from "./harness.js";

const CPUS = possibleCpus();
const run = IS_ROOT && HAVE_DIST;
if (!IS_ROOT) console.warn("skipping prefetch tests: not running as root");

/** 180 maps of five kinds (the first 64 small maps are read before the thread starts). */
function plan(): MapPlan[] {
  const maps: MapPlan[] = [];
  for (let i = 0; i < 180; i++) {
    const n = i % 7;
    const elements = Array.from({ length: n }, (_, k): [string, string] => [u32hex(k * 3 + i), u64hex(BigInt(i) * 1000n + BigInt(k))]);
    switch (i % 5) {
      case 0:
        maps.push({ name: `h${i}`, type: "HASH", keySize: 4, valueSize: 8, maxEntries: 8, elements });
        break;
      case 1:
        maps.push({ name: `a${i}`, type: "ARRAY", keySize: 4, valueSize: 8, maxEntries: 7, elements: elements.map(([, v], k) => [u32hex(k), v]) });
        break;
      case 2:
        maps.push({ name: `l${i}`, type: "LRU_HASH", keySize: 4, valueSize: 8, maxEntries: 32, elements, extraFds: ["byIdRdonly"] });
        break;
      case 3: {
        const pc = (v: string) => v.repeat(CPUS);
        maps.push({ name: `p${i}`, type: "PERCPU_HASH", keySize: 4, valueSize: 8, maxEntries: 8, elements: elements.map(([k, v]) => [k, pc(v)]) });
        break;
      }
      default:
        // One too large for the thread (read on the main thread, between the others), and more small ones.
        maps.push({ name: `big${i}`, type: "HASH", keySize: 4, valueSize: 8, maxEntries: i === 4 ? 100_000 : 16, elements });
    }
  }
  return maps;
}

/** `crtool dump -v` of the holder with CRTOOL_PLAIN=`plain` (and more environment), into scratch/NAME. */
function dumpHolder(pid: number, scratch: string, plain: string, env: NodeJS.ProcessEnv = {}, name = plain || "default"): { dir: string; stderr: string } {
  return dumpVerbose(pid, join(scratch, name), plain, { env, timeoutMs: 60_000 });
}

describe.skipIf(!run)("dumping many small maps on two threads", () => {
  let holder: Holder;
  const dirs: string[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "crtool-prefetch-"));
  const maps = plan();

  function dump(plain: string): { dir: string; stderr: string } {
    const d = dumpHolder(holder.pid, scratch, plain);
    dirs.push(d.dir);
    return d;
  }

  beforeAll(async () => {
    holder = await startHolder(maps);
  }, 60_000);
  afterAll(async () => {
    await holder?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("writes the same images with and without the thread, and through its fallback", () => {
    const fast = dump("");
    const plain = dump("prefetch");
    const fallback = dump("prefetch-fallback");
    // Every map but one is small; past the first 64 of them, the thread reads them.
    // Those the thread had not started when the main thread waited for them (all of them, when the thread was
    // still starting), the main thread read itself.
    const byThread = /contents of (\d+) small BPF maps were read on a second thread(?: \((\d+) more queued for it were read by the main thread as it waited\))?/.exec(fast.stderr);
    const byMain = /contents of (\d+) small BPF maps queued for the helper thread were read by the main thread/.exec(fast.stderr);
    expect(byThread ?? byMain, fast.stderr).not.toBeNull();
    expect(byThread ? Number(byThread[1]) + Number(byThread[2] ?? 0) : Number(byMain![1])).toBe(115);
    expect(plain.stderr).not.toMatch(/small BPF maps/);
    expect(fallback.stderr).not.toMatch(/small BPF maps/);
    // The fd images (the others hold times and states of the process that vary from dump to dump).
    const fdImages = (dir: string) => readdirSync(dir).filter((f) => /^(files|bpfmap-data|fdinfo-\d+)\.img$/.test(f)).sort();
    const names = fdImages(fast.dir);
    expect(names).toContain("bpfmap-data.img");
    expect(fdImages(plain.dir)).toEqual(names);
    for (const f of names) {
      const a = readFileSync(join(fast.dir, f));
      expect(a.equals(readFileSync(join(plain.dir, f))), `${f} (plain)`).toBe(true);
      expect(a.equals(readFileSync(join(fallback.dir, f))), `${f} (fallback)`).toBe(true);
    }
  }, 60_000);

  it("holds every map's elements", async () => {
    const dir = dirs[0];
    const { entries: data } = await decodeImage(readFileSync(join(dir, "bpfmap-data.img")), "bpfmap-data.img");
    expect(data).toHaveLength(maps.length);
    const byId = new Map(data.map((e) => [e.message.map_id as number, e]));
    for (const m of maps) {
      const id = holder.maps[m.name].id;
      const entry = byId.get(id);
      expect(entry, m.name).toBeDefined();
      const stride = m.type.startsWith("PERCPU") ? 8 * CPUS : m.valueSize;
      const got = elementsOf({ message: entry!.message, payload: entry!.payload as Uint8Array }, m.keySize, stride);
      const want = m.type === "ARRAY"
        ? Array.from({ length: m.maxEntries }, (_, k) => [u32hex(k), m.elements?.[k]?.[1] ?? u64hex(0)])
        : m.elements ?? [];
      expect(new Set(got.map((e) => e.join(":"))), m.name).toEqual(new Set(want.map((e) => e.join(":"))));
    }
  }, 60_000);
});

describe.skipIf(!run)("reading the fdinfo of a process with many fds ahead, on the helper thread", () => {
  let holder: Holder;
  const scratch = mkdtempSync(join(tmpdir(), "crtool-read-ahead-"));
  // Past the 1,024 fds from which fdinfo is read ahead (src/checkpoint/dump.ts). The thread also
  // takes each map's fd and asks its signal, owner and bpf_map_info: some maps have a signal, an
  // owner (whose uids the main thread asks), BTF, another type, read-only fds.
  const maps: MapPlan[] = Array.from({ length: 1100 }, (_, i) => ({
    name: `r${i}`,
    type: i % 13 === 0 ? "ARRAY" : "HASH",
    keySize: 4,
    valueSize: 8,
    maxEntries: 4,
    elements: i % 13 === 0 ? [] : Array.from({ length: i % 4 }, (_, k): [string, string] => [u32hex(k + i), u64hex(BigInt(i * 10 + k))]),
    ...(i % 97 === 0 ? { extraFds: ["byIdRdonly" as const] } : {}),
    ...(i % 89 === 0 ? { fown: true } : i % 83 === 0 ? { sigOnly: true } : {}),
    ...(i % 79 === 0 ? { btf: true, mapName: `btf_${i}` } : {}),
  }));

  beforeAll(async () => {
    holder = await startHolder(maps);
  }, 120_000);
  afterAll(async () => {
    await holder?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("writes the same fd images as a dump that reads every fdinfo itself", () => {
    // The helper thread shares two CPUs with the main thread: on a loaded machine it can fall behind for a
    // whole dump, and the main thread then reads every fdinfo itself (a right dump, but not the path under
    // test). Up to three dumps, the first that read ahead is compared.
    const readAhead = /fdinfo of (\d+) fds was read ahead on a second thread \(with (\d+) BPF map fds taken and asked about\)/;
    let ahead = dumpHolder(holder.pid, scratch, "");
    for (let attempt = 2; attempt <= 3 && !readAhead.test(ahead.stderr); attempt++) ahead = dumpHolder(holder.pid, scratch, "", {}, `default-${attempt}`);
    const itself = dumpHolder(holder.pid, scratch, "fdinfo-ahead");
    const neither = dumpHolder(holder.pid, scratch, "fdinfo-ahead,prefetch");
    // The helper thread dies as it starts: the main thread does its work, the dump is the same.
    const dead = dumpHolder(holder.pid, scratch, "", { CRTOOL_FAULT: "helper-thread" }, "dead-helper");
    expect(dead.stderr).not.toMatch(/second thread/);
    const m = readAhead.exec(ahead.stderr);
    expect(m, ahead.stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeGreaterThan(0);
    expect(itself.stderr).not.toMatch(/read ahead/);
    const fdImages = readdirSync(ahead.dir).filter((f) => /^(files|bpfmap-data|fdinfo-\d+)\.img$/.test(f)).sort();
    expect(fdImages).toHaveLength(3);
    for (const f of fdImages) {
      const a = readFileSync(join(ahead.dir, f));
      expect(a.equals(readFileSync(join(itself.dir, f))), `${f} (fdinfo read by the main thread)`).toBe(true);
      expect(a.equals(readFileSync(join(neither.dir, f))), `${f} (one thread)`).toBe(true);
      expect(a.equals(readFileSync(join(dead.dir, f))), `${f} (helper thread dead)`).toBe(true);
    }
  }, 120_000);

  it("a helper thread still starting when the dump ends: the dump waits for it after the thaw, exits 0, and writes what one thread writes", () => {
    // Stopped by the command's exit while it loads koffi's addon, the thread would make Node abort the
    // process after a successful dump. CRTOOL_PAUSE=helper-start holds the thread back past the dump's end.
    const late = dumpHolder(holder.pid, scratch, "", { CRTOOL_PAUSE: "helper-start:1500" }, "late-helper");
    expect(late.stderr).toMatch(/^the helper thread ended \d+ ms after the thaw$/m);
    expect(late.stderr).not.toMatch(/read ahead on a second thread/);
    const itself = dumpHolder(holder.pid, scratch, "fdinfo-ahead,prefetch", {}, "late-helper-compare");
    for (const f of readdirSync(itself.dir).filter((n) => /^(files|bpfmap-data|fdinfo-\d+)\.img$/.test(n))) {
      expect(readFileSync(join(late.dir, f)).equals(readFileSync(join(itself.dir, f))), f).toBe(true);
    }
  }, 120_000);

  it("SIGINT while the helper thread starts: exit 130 once it is up, the tree running, nothing left", async () => {
    const dir = join(scratch, "interrupted");
    const child = spawn(process.execPath, [join(REPO_ROOT, "dist", "cli", "crtool.js"), "dump", "-t", String(holder.pid), "-D", dir], {
      env: { ...process.env, CRTOOL_PAUSE: "helper-start:1500,after-freeze:3000" },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 700));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(readFileSync(`/proc/${holder.pid}/status`, "latin1")).toMatch(/^TracerPid:\s+0$/m);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(scratch).filter((n) => n.includes("crtool-tmp"))).toEqual([]);
  }, 60_000);

  it("records the signal and owner of each map read ahead", async () => {
    const ahead = dumpHolder(holder.pid, scratch, "", {}, "fown");
    const { entries } = await decodeImage(readFileSync(join(ahead.dir, "files.img")), "files.img");
    // The first file of each map is the fd it was made with (a read-only one by id follows it).
    const byMapId = new Map<number, { fown: unknown }>();
    for (const e of entries) {
      const bpf = e.message.bpf as { map_id: number; fown: unknown } | undefined;
      if (bpf && !byMapId.has(bpf.map_id)) byMapId.set(bpf.map_id, bpf);
    }
    let owned = 0;
    let signalled = 0;
    for (const m of maps) {
      const fown = byMapId.get(holder.maps[m.name].id)?.fown;
      if (m.fown) {
        expect(fown, m.name).toEqual({ uid: 0, euid: 0, signum: 10, pid_type: 1, pid: holder.pid });
        owned++;
      } else if (m.sigOnly) {
        expect(fown, m.name).toEqual({ uid: 0, euid: 0, signum: 10, pid_type: 0, pid: 0 });
        signalled++;
      } else {
        expect(fown, m.name).toEqual({ uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 });
      }
    }
    expect([owned, signalled]).toEqual([13, 13]);
  }, 120_000);

  it("leaves no fd of its own open once a dump in this process ends (the thread's duplicates and queued closes included)", async () => {
    const before = countBpfFds();
    const summary = await dump({ pid: holder.pid, dir: join(scratch, "in-process"), leaveStopped: false, skipUnsupported: false, verbose: false });
    expect(summary.maps).toBe(maps.length);
    // The thread is stopped asynchronously: what it leaves is closed once it is gone.
    for (let waited = 0; countBpfFds() !== before && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(countBpfFds()).toBe(before);
  }, 120_000);
});
