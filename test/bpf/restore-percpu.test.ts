/**
 * Per-CPU maps recorded on a machine with another possible-CPU count: by
 * default restore refuses (naming both counts); with cpuMismatch
 * "truncate-or-zero-fill" the CPUs both machines have get their values back,
 * extra recorded CPUs are dropped and missing ones start at zero. Images
 * without the count (CRIU's layout) get it from the sizes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { MAP_TYPE, mapLookupElem, possibleCpus } from "../../src/kernel/index.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { PossibleCpusMismatchError } from "../../src/bpf/restore/errors.js";
import { verifyRestoredMaps } from "../../src/bpf/restore/verify.js";
import { IS_ROOT, countBpfFds } from "../kernel/helpers.js";
import { TestRestore, mapIdsAboveSettled, maxMapId, removeDir, tempDir, writeSyntheticDump } from "./restore-harness.js";

const CPUS = possibleCpus();
const VALUE_SIZE = 4;
const SLOT = 8;

/** Value of key k on CPU c, as recorded. */
const slotValue = (k: number, c: number) => 0x1000 * k + c + 1;

/** A PERCPU_HASH of keys 1..3 recorded with `cpus` possible CPUs. */
function recorded(dir: string, cpus: number, withCount = true): void {
  const keys = [1, 2, 3];
  const values = Buffer.alloc(keys.length * SLOT * cpus);
  keys.forEach((k, i) => {
    for (let c = 0; c < cpus; c++) values.writeUInt32LE(slotValue(k, c), (i * cpus + c) * SLOT);
  });
  const spec = new MapSpec({ mapType: MAP_TYPE.PERCPU_HASH, keySize: 4, valueSize: VALUE_SIZE, maxEntries: 8, mapFlags: 0, name: "pcpu", mapId: 500, possibleCpus: withCount ? cpus : undefined });
  writeSyntheticDump(dir, [
    {
      spec,
      contents: { keys: Buffer.concat(keys.map((k) => Buffer.from(Uint32Array.of(k).buffer))), values, count: keys.length },
      dataExt: withCount ? { possible_cpus: cpus } : undefined,
    },
  ]);
}

/** What each CPU here holds for key k (undefined: key absent). */
function perCpuValues(fd: number, k: number): number[] | undefined {
  const v = Buffer.alloc(SLOT * CPUS);
  if (!mapLookupElem(fd, Buffer.from(Uint32Array.of(k).buffer), v)) return undefined;
  return Array.from({ length: CPUS }, (_, c) => v.readUInt32LE(c * SLOT));
}

describe.skipIf(!IS_ROOT)("per-CPU maps across possible-CPU counts", () => {
  const dirs: string[] = [];
  const fdsBefore = countBpfFds();
  const dir = () => {
    const d = tempDir("crtool-bpf-restore-");
    dirs.push(d);
    return d;
  };

  afterEach(() => {
    for (const d of dirs.splice(0)) removeDir(d);
    expect(countBpfFds()).toBe(fdsBefore);
  });

  it("refuses values recorded for more CPUs, naming both counts, and leaves nothing", async () => {
    const d = dir();
    recorded(d, CPUS + 2);
    const above = maxMapId();
    const r = new TestRestore(d);
    const err = await r.restoreFile(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PossibleCpusMismatchError);
    expect(err).toMatchObject({ recorded: CPUS + 2, current: CPUS });
    expect((err as Error).message).toBe(
      `BPF map "pcpu" (id 500 at dump time, PERCPU_HASH): its per-CPU values were recorded for ${CPUS + 2} possible CPUs, this machine has ${CPUS}; ` +
        `restore with cpuMismatch "truncate-or-zero-fill" to accept that the values of CPUs ${CPUS}-${CPUS + 1} would be dropped`,
    );
    r.rollback();
    expect(await mapIdsAboveSettled(above)).toEqual([]);
  });

  it("with truncate-or-zero-fill, gives each CPU here its recorded value and drops the others", async () => {
    const d = dir();
    recorded(d, CPUS + 2);
    const r = new TestRestore(d, { cpuMismatch: "truncate-or-zero-fill" });
    try {
      const fd = await r.restoreFile(1);
      for (const k of [1, 2, 3]) expect(perCpuValues(fd, k)).toEqual(Array.from({ length: CPUS }, (_, c) => slotValue(k, c)));
      expect(await verifyRestoredMaps(r.ctx)).toEqual([]);
    } finally {
      await r.finish();
    }
  });

  it.skipIf(CPUS < 2)("with truncate-or-zero-fill, starts CPUs the dumping machine lacked at zero", async () => {
    const d = dir();
    recorded(d, 1);
    const plain = new TestRestore(d);
    await expect(plain.restoreFile(1)).rejects.toThrow(/recorded for 1 possible CPUs, this machine has \d+; .* CPUs? 1(-\d+)? would start with zero values/);
    plain.rollback();
    const r = new TestRestore(d, { cpuMismatch: "truncate-or-zero-fill" });
    try {
      const fd = await r.restoreFile(1);
      for (const k of [1, 2, 3]) expect(perCpuValues(fd, k)).toEqual([slotValue(k, 0), ...Array<number>(CPUS - 1).fill(0)]);
      expect(await verifyRestoredMaps(r.ctx)).toEqual([]);
    } finally {
      await r.finish();
    }
  });

  it("takes the CPU count from the sizes when the image does not record it (CRIU's layout)", async () => {
    const d = dir();
    recorded(d, CPUS, false);
    const r = new TestRestore(d);
    try {
      const fd = await r.restoreFile(1);
      expect(perCpuValues(fd, 2)).toEqual(Array.from({ length: CPUS }, (_, c) => slotValue(2, c)));
    } finally {
      await r.finish();
    }
  });

  it("refuses an unknown cpuMismatch policy", async () => {
    const d = dir();
    recorded(d, CPUS);
    // Not a policy crtool has: the test hands restore what a hand-made caller could.
    const r = new TestRestore(d, { cpuMismatch: "average" as "error" });
    await expect(r.restoreFile(1)).rejects.toThrow(/cpuMismatch must be one of error, truncate-or-zero-fill, not average/);
    r.rollback();
  });
});
