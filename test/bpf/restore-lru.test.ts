/**
 * LRU maps filled to (nearly) max_entries: loading them from one CPU makes
 * the kernel evict the first elements loaded (its free-list batches), so
 * restore puts them back; a per-CPU-list LRU fuller than one CPU's share
 * loads one share per CPU, and where restore may run on too few CPUs to
 * hold it, restore says so.
 */
import { describe, expect, it } from "vitest";
import { readdirSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { BPF_F_NO_COMMON_LRU, MAP_TYPE, close, mapCreate, mapUpdateElem, objGet, objPin, onCpu, possibleCpus, setThreadCpus, threadCpus } from "../../src/kernel/index.js";
import { NotSupportedError } from "../../src/images/errors.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { verifyRestoredMaps } from "../../src/bpf/restore/verify.js";
import { IS_ROOT, bpffsDir } from "../kernel/helpers.js";
import { HAVE_DIST } from "./harness.js";
import { runCli } from "../helpers/run-cli.js";
import { snapshotMap } from "../../src/demo/map-snapshot.js";
import { TestRestore, dumpDirPerTest, mapIdsAboveSettled, maxMapId, tempDir, u32Elements, writeSyntheticDump } from "./restore-harness.js";

const CPUS = possibleCpus();
const range = (n: number) => Array.from({ length: n }, (_, i) => i * 7 + 1);

/**
 * Runs `fn` with this thread held on one CPU, as the "more than one CPU can
 * hold" case needs: restore then may run on that CPU only.
 */
async function onOneCpu<T>(fn: () => Promise<T>): Promise<T> {
  const before = threadCpus();
  setThreadCpus([before[0]]);
  try {
    return await fn();
  } finally {
    setThreadCpus(before);
  }
}

describe.skipIf(!IS_ROOT)("restoring full LRU maps", () => {
  const scratch = dumpDirPerTest();

  for (const [type, name] of [[MAP_TYPE.LRU_HASH, "LRU_HASH"], [MAP_TYPE.LRU_PERCPU_HASH, "LRU_PERCPU_HASH"]] as const) {
    it(`keeps every element of a ${name} filled to max_entries`, async () => {
      const perCpu = type === MAP_TYPE.LRU_PERCPU_HASH;
      const n = 1000;
      const elements = u32Elements(range(n), perCpu ? 8 * CPUS : 8);
      writeSyntheticDump(scratch.dir, [
        {
          spec: new MapSpec({ mapType: type, keySize: 4, valueSize: 8, maxEntries: n, mapFlags: 0, name: "full", mapId: 600, possibleCpus: perCpu ? CPUS : undefined }),
          contents: elements,
          dataExt: perCpu ? { possible_cpus: CPUS } : undefined,
        },
      ]);
      const r = new TestRestore(scratch.dir, { verbose: true });
      try {
        await r.restoreFile(1);
        expect((await r.session()).maps[0].count).toBe(n);
        expect(await verifyRestoredMaps(r.ctx)).toEqual([]);
      } finally {
        await r.finish();
      }
    });
  }

  const usableCpus = threadCpus();
  const usable = usableCpus.length;
  const allCpus = CPUS >= 2 && usable >= CPUS;
  if (!allCpus) console.warn(`skipping the per-CPU LRU shares test: it needs 2 or more CPUs, all usable (${CPUS} possible, ${usable} usable here)`);
  for (const [type, name] of [[MAP_TYPE.LRU_HASH, "LRU_HASH"], [MAP_TYPE.LRU_PERCPU_HASH, "LRU_PERCPU_HASH"]] as const) {
    it.skipIf(!allCpus)(`keeps every element of a BPF_F_NO_COMMON_LRU ${name} filled to max_entries, one CPU's share on each CPU`, async () => {
      const perCpu = type === MAP_TYPE.LRU_PERCPU_HASH;
      // One element fewer than the lists hold in all (max_entries / CPUs each): the last CPU's list ends one short.
      const n = 1000 - (1000 % CPUS) - 1;
      const elements = u32Elements(range(n), perCpu ? 8 * CPUS : 8);
      writeSyntheticDump(scratch.dir, [
        {
          spec: new MapSpec({ mapType: type, keySize: 4, valueSize: 8, maxEntries: 1000, mapFlags: BPF_F_NO_COMMON_LRU, name: "percpu_lists", mapId: 602, possibleCpus: perCpu ? CPUS : undefined }),
          contents: elements,
          dataExt: perCpu ? { possible_cpus: CPUS } : undefined,
        },
      ]);
      const before = threadCpus();
      const r = new TestRestore(scratch.dir, { verbose: true });
      try {
        await r.restoreFile(1);
        expect((await r.session()).maps[0].count).toBe(n);
        expect(r.logs.some((l) => /evicted/.test(l))).toBe(false);
        const share = Math.floor(1000 / CPUS);
        const told = usableCpus.map((cpu, i) => `${i === CPUS - 1 ? n - share * (CPUS - 1) : share} on CPU ${cpu}`).join(", ");
        expect(r.logs).toContain(`BPF map "percpu_lists" (id 602 at dump time, ${name}): loaded on ${CPUS} CPUs in turn (${told}): with BPF_F_NO_COMMON_LRU each CPU holds its own share`);
        expect(await verifyRestoredMaps(r.ctx)).toEqual([]);
        expect(threadCpus()).toEqual(before);
      } finally {
        await r.finish();
      }
    });
  }

  it.skipIf(CPUS < 2)("refuses a BPF_F_NO_COMMON_LRU map fuller than the CPUs restore may run on hold, or keeps the rest with --skip-unsupported", async () => {
    const n = 1000;
    writeSyntheticDump(scratch.dir, [
      { spec: new MapSpec({ mapType: MAP_TYPE.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: n, mapFlags: BPF_F_NO_COMMON_LRU, name: "percpu_lists", mapId: 601 }), contents: u32Elements(range(n), 8) },
    ]);
    const above = maxMapId();
    const r = new TestRestore(scratch.dir);
    const err = await onOneCpu(() => r.restoreFile(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as Error).message).toMatch(
      new RegExp(`^BPF map "percpu_lists" \\(id 601 at dump time, LRU_HASH\\): the kernel evicted \\d+ of its 1000 elements while they were loaded \\(with BPF_F_NO_COMMON_LRU each CPU holds at most max_entries / ${CPUS} = ${Math.floor(n / CPUS)} elements, and restore may run on 1 CPU: ${Math.floor(n / CPUS)} in all\\)$`),
    );
    r.rollback();
    expect(await mapIdsAboveSettled(above)).toEqual([]);

    const lenient = new TestRestore(scratch.dir, { skipUnsupported: true });
    try {
      await onOneCpu(() => lenient.restoreFile(1));
      const kept = (await lenient.session()).maps[0].count;
      expect(kept).toBeLessThanOrEqual(n / CPUS);
      expect(kept).toBeGreaterThan(0);
      expect(lenient.logs.some((l) => /keeping the rest \(--skip-unsupported\)/.test(l))).toBe(true);
      const diffs = await verifyRestoredMaps(lenient.ctx);
      // One difference per evicted element (the first ten listed), and the count.
      expect(diffs[0]).toMatch(/: key [0-9a-f]+ is missing$/);
      expect(diffs.at(-1)).toMatch(/more differences$/);
    } finally {
      await lenient.finish();
    }
  });
});

/**
 * The case as users meet it: a live per-CPU-list LRU map filled on every
 * CPU (as a program attached on each CPU fills it), dumped and restored with
 * the CLI, compared element by element.
 */
describe.skipIf(!IS_ROOT || !HAVE_DIST)("a full BPF_F_NO_COMMON_LRU map through the CLI", () => {
  const usable = threadCpus();
  const allCpus = CPUS >= 2 && usable.length >= CPUS;
  it.skipIf(!allCpus)("dump --pinned then restore --pin keeps every element", () => {
    const from = bpffsDir();
    const to = bpffsDir();
    const ck = tempDir("crtool-lru-");
    const fds: number[] = [];
    try {
      if (!from || !to) return;
      const maxEntries = 1000;
      const fd = mapCreate({ mapType: MAP_TYPE.LRU_HASH, keySize: 4, valueSize: 8, maxEntries, mapFlags: BPF_F_NO_COMMON_LRU, name: "conn_lru" });
      fds.push(fd);
      const share = Math.floor(maxEntries / CPUS);
      const key = Buffer.alloc(4);
      const value = Buffer.alloc(8);
      usable.forEach((cpu, i) =>
        onCpu(cpu, () => {
          for (let k = i * share; k < (i + 1) * share; k++) {
            key.writeUInt32LE(k);
            value.writeBigUInt64LE(BigInt(k) * 0x10001n + BigInt(cpu));
            mapUpdateElem(fd, key, value);
          }
        }),
      );
      const before = snapshotMap(fd);
      expect(before.elements.length).toBe(share * CPUS);
      objPin(fd, join(from.dir, "conn_lru"));
      const dumped = runCli("crtool", ["dump", "--pinned", from.dir, "-D", join(ck, "images")]);
      expect(dumped.status, dumped.stderr).toBe(0);
      const restored = runCli("crtool", ["restore", "-D", join(ck, "images"), "--pin", to.dir]);
      expect(restored.status, restored.stderr).toBe(0);
      const again = objGet(join(to.dir, "conn_lru"));
      fds.push(again);
      const after = snapshotMap(again);
      expect(after.mapFlags).toBe(BPF_F_NO_COMMON_LRU);
      expect(after.elements.length).toBe(before.elements.length);
      expect(new Set(after.elements.map((e) => e.join("=")))).toEqual(new Set(before.elements.map((e) => e.join("="))));
    } finally {
      fds.forEach((fd) => close(fd));
      for (const fs of [from, to]) {
        if (!fs) continue;
        for (const f of readdirSync(fs.dir)) unlinkSync(join(fs.dir, f));
        fs.cleanup();
      }
      rmSync(ck, { recursive: true, force: true });
    }
  });
});
