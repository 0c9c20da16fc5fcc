/**
 * LRU maps filled to (nearly) max_entries: loading them from one CPU makes
 * the kernel evict the first elements loaded (its free-list batches), so
 * restore puts them back; a per-CPU-list LRU fuller than one CPU's share
 * cannot be held from one CPU, and restore says so.
 */
import { describe, expect, it } from "vitest";
import { BPF_F_NO_COMMON_LRU, MAP_TYPE, addressOf, possibleCpus, rawSyscall } from "../../src/kernel/index.js";
import { NotSupportedError } from "../../src/images/errors.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { verifyRestoredMaps } from "../../src/bpf/restore/verify.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { TestRestore, dumpDirPerTest, mapIdsAboveSettled, maxMapId, u32Elements, writeSyntheticDump } from "./restore-harness.js";

const CPUS = possibleCpus();
const range = (n: number) => Array.from({ length: n }, (_, i) => i * 7 + 1);

/** sched_getaffinity and sched_setaffinity, which crtool itself never calls. */
const AFFINITY = process.arch === "arm64" ? { get: 123, set: 122 } : { get: 204, set: 203 };

/**
 * Runs `fn` with this thread held on one CPU, as the "one CPU's share" case
 * needs: a thread the scheduler moves between CPUs while it loads a map
 * fills several CPUs' lists (a busy machine kept 998 of 1000 elements).
 */
async function onOneCpu<T>(fn: () => Promise<T>): Promise<T> {
  const before = Buffer.alloc(128);
  const n = rawSyscall(AFFINITY.get, 0, before.length, addressOf(before));
  if (n < 0) throw new Error(`sched_getaffinity: errno ${-n}`);
  let cpu = 0;
  while (!(before[cpu >> 3] & (1 << (cpu & 7)))) cpu++;
  const one = Buffer.alloc(128);
  one[cpu >> 3] = 1 << (cpu & 7);
  const r = rawSyscall(AFFINITY.set, 0, one.length, addressOf(one));
  if (r < 0) throw new Error(`sched_setaffinity: errno ${-r}`);
  try {
    return await fn();
  } finally {
    rawSyscall(AFFINITY.set, 0, n, addressOf(before));
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

  it.skipIf(CPUS < 2)("refuses a BPF_F_NO_COMMON_LRU map fuller than one CPU's share, or keeps the rest with --skip-unsupported", async () => {
    const n = 1000;
    writeSyntheticDump(scratch.dir, [
      { spec: new MapSpec({ mapType: MAP_TYPE.LRU_HASH, keySize: 4, valueSize: 8, maxEntries: n, mapFlags: BPF_F_NO_COMMON_LRU, name: "percpu_lists", mapId: 601 }), contents: u32Elements(range(n), 8) },
    ]);
    const above = maxMapId();
    const r = new TestRestore(scratch.dir);
    const err = await onOneCpu(() => r.restoreFile(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as Error).message).toMatch(
      new RegExp(`^BPF map "percpu_lists" \\(id 601 at dump time, LRU_HASH\\): the kernel evicted \\d+ of its 1000 elements while they were loaded \\(with BPF_F_NO_COMMON_LRU, one CPU holds at most max_entries / ${CPUS} elements\\)$`),
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
