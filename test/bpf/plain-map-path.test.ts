/**
 * The dump's short path for BPF map fds (DumpSession.dumpMapFd and
 * dumpPlainMapFile) must write exactly what the general fd path writes
 * (CRTOOL_PLAIN=map-fds), for the maps it takes and beside every kind it
 * leaves to the general path: second fds of a map (dup'ed: the same open
 * file; by id: another one), read-only fds, BTF, per-CPU, frozen, owned and
 * signalled files, map-in-map, queues, maps too large for the helper thread,
 * map flags. Run with and without the helper thread reading fdinfo ahead.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { decodeImage } from "../../src/images/index.js";
import { possibleCpus } from "../../src/kernel/index.js";
import { dumpVerbose } from "../helpers/run-cli.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { HAVE_DIST, startHolder, u32hex, u64hex, type Holder, type MapPlan } from "./harness.js";

const CPUS = possibleCpus();
const TWO_CPUS = availableParallelism() >= 2;
const run = IS_ROOT && HAVE_DIST;
if (!IS_ROOT) console.warn("skipping short map path tests: not running as root");

const BPF_F_NO_PREALLOC = 1;
const BPF_F_NO_COMMON_LRU = 2;
const BPF_F_RDONLY = 1 << 3;
const BPF_F_RDONLY_PROG = 1 << 7;

/** 1,100 maps (past the 1,024 fds from which fdinfo is read ahead), most of them plain, every 7th something else. */
function plan(): MapPlan[] {
  const maps: MapPlan[] = [];
  const elements = (i: number, n: number) => Array.from({ length: n }, (_, k): [string, string] => [u32hex(k * 7 + i), u64hex(BigInt(i) * 100n + BigInt(k))]);
  maps.push({ name: "tmpl", type: "HASH", keySize: 4, valueSize: 8, maxEntries: 4 });
  for (let i = 0; i < 1100; i++) {
    const n = i % 5;
    const base: MapPlan = { name: `m${i}`, type: "HASH", keySize: 4, valueSize: 8, maxEntries: 8, elements: elements(i, n) };
    if (i % 7 !== 3) {
      // Plain maps of the kinds the short path takes, with an occasional flag or second fd.
      const kind = i % 4;
      if (kind === 1) maps.push({ ...base, type: "ARRAY", maxEntries: 6, elements: elements(i, n).map(([, v], k) => [u32hex(k), v]), mapFlags: i % 3 === 0 ? BPF_F_RDONLY_PROG : 0 });
      else if (kind === 2) maps.push({ ...base, type: "LRU_HASH", maxEntries: 16, mapFlags: i % 3 === 0 ? BPF_F_NO_COMMON_LRU : 0 });
      else if (kind === 3) maps.push({ ...base, mapFlags: BPF_F_NO_PREALLOC, ...(i % 11 === 0 ? { extraFds: ["dup" as const] } : {}) });
      else maps.push({ ...base, ...(i % 13 === 0 ? { extraFds: ["byId" as const, "byIdRdonly" as const] } : {}), ...(i % 17 === 0 ? { mapName: "" } : {}) });
      if (i % 29 === 0) maps[maps.length - 1].sigOnly = true;
      if (i % 31 === 0) maps[maps.length - 1].fown = true;
      continue;
    }
    // Every 7th: one the general path takes.
    switch ((i / 7) % 8 | 0) {
      case 0:
        maps.push({ ...base, btf: true });
        break;
      case 1:
        maps.push({ ...base, type: "PERCPU_HASH", elements: elements(i, n).map(([k, v]) => [k, v.repeat(CPUS)]) });
        break;
      case 2:
        maps.push({ ...base, type: "ARRAY", maxEntries: 4, elements: [[u32hex(1), u64hex(i)]], freeze: true });
        break;
      case 3:
        maps.push({ ...base, type: "QUEUE", keySize: 0, push: [u64hex(i), u64hex(i + 1)], elements: undefined });
        break;
      case 4:
        maps.push({ ...base, type: "HASH_OF_MAPS", valueSize: 4, inner: "tmpl", innerElements: [[u32hex(1), "tmpl"]], elements: undefined });
        break;
      case 5:
        // Too large for the helper thread's arena share: read on the main thread.
        maps.push({ ...base, maxEntries: 200_000 });
        break;
      case 6:
        // User space cannot write it: empty.
        maps.push({ ...base, mapFlags: BPF_F_RDONLY, elements: [] });
        break;
      default:
        maps.push({ ...base, extraFds: ["dup"], fown: true });
    }
  }
  return maps;
}

function dumpHolder(pid: number, scratch: string, name: string, plain: string): { dir: string; stderr: string } {
  return dumpVerbose(pid, join(scratch, name), plain, { timeoutMs: 120_000 });
}

describe.skipIf(!run)("the short path for BPF map fds", () => {
  let holder: Holder;
  const scratch = mkdtempSync(join(tmpdir(), "crtool-short-path-"));
  const maps = plan();

  beforeAll(async () => {
    holder = await startHolder(maps);
  }, 120_000);
  afterAll(async () => {
    await holder?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("writes what the general path writes, with the helper thread and without it", async () => {
    const short = dumpHolder(holder.pid, scratch, "short", "");
    const general = dumpHolder(holder.pid, scratch, "general", "map-fds");
    const shortAlone = dumpHolder(holder.pid, scratch, "short-alone", "fdinfo-ahead");
    const took = /(\d+) BPF map fds took the short path/;
    if (TWO_CPUS) {
      // Past the first 64 small maps (read before the helper thread is worth it), the plain ones.
      const n = Number(took.exec(short.stderr)?.[1]);
      expect(n, short.stderr).toBeGreaterThan(800);
      expect(Number(took.exec(shortAlone.stderr)?.[1])).toBe(n);
    } else {
      // One CPU: no helper thread, so no map is small enough for the short path.
      expect(short.stderr).not.toMatch(took);
    }
    expect(general.stderr).not.toMatch(took);
    const fdImages = (dir: string) => readdirSync(dir).filter((f) => /^(files|bpfmap-data|fdinfo-\d+)\.img$/.test(f)).sort();
    const names = fdImages(short.dir);
    expect(names).toHaveLength(3);
    expect(fdImages(general.dir)).toEqual(names);
    for (const f of names) {
      const a = readFileSync(join(short.dir, f));
      expect(a.equals(readFileSync(join(general.dir, f))), `${f} (general path)`).toBe(true);
      expect(a.equals(readFileSync(join(shortAlone.dir, f))), `${f} (short path, fdinfo read on the main thread)`).toBe(true);
    }
    // The summary counts the same fds and maps.
    const summary = (s: string) => s.split("\n").filter((l) => /^\s+(fds|BPF maps|images):/.test(l));
    expect(summary(short.stderr)).toEqual(summary(general.stderr));
    // And what was written is each map once, with its owner where it has one.
    const { entries } = await decodeImage(readFileSync(join(short.dir, "files.img")), "files.img");
    const first = new Map<number, { fown: { signum: number; pid: number } }>();
    for (const e of entries) {
      const bpf = e.message.bpf as { map_id: number; fown: { signum: number; pid: number } } | undefined;
      if (bpf && !first.has(bpf.map_id)) first.set(bpf.map_id, bpf);
    }
    for (const m of maps) {
      const fown = first.get(holder.maps[m.name].id)?.fown;
      expect(fown, m.name).toBeDefined();
      expect(fown!.signum, m.name).toBe(m.fown || m.sigOnly ? 10 : 0);
      expect(fown!.pid, m.name).toBe(m.fown ? holder.pid : 0);
    }
  }, 240_000);
});
