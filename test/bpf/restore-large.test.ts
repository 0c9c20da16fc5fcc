/**
 * Large hash maps load on several threads (each writing a range of the
 * elements; CRTOOL_THREADS sets how many): the result must be exactly the
 * recorded contents, per-CPU ones included, whatever the count.
 */
import { describe, expect, it } from "vitest";
import { MAP_TYPE, mapLookupElem, possibleCpus } from "../../src/kernel/index.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { verifyRestoredMaps } from "../../src/bpf/restore/verify.js";
import { IS_ROOT } from "../kernel/helpers.js";
import { TestRestore, dumpDirPerTest, writeSyntheticDump } from "./restore-harness.js";

const CPUS = possibleCpus();

/** n elements: key i × 2654435761 mod 2^32 (distinct), value `valueOf(i)` in `stride` bytes. */
function elements(n: number, stride: number) {
  const keys = Buffer.alloc(n * 4);
  const values = Buffer.alloc(n * stride);
  for (let i = 0; i < n; i++) {
    keys.writeUInt32LE(Number((BigInt(i) * 2654435761n) & 0xffffffffn), i * 4);
    for (let o = 0; o + 8 <= stride; o += 8) values.writeBigUInt64LE(BigInt(i) * 1000n + BigInt(o), i * stride + o);
  }
  return { keys, values, count: n };
}

describe.skipIf(!IS_ROOT)("restoring large hash maps", () => {
  const scratch = dumpDirPerTest();

  const cases = [[MAP_TYPE.HASH, "HASH", 2], [MAP_TYPE.HASH, "HASH", 3], [MAP_TYPE.PERCPU_HASH, "PERCPU_HASH", 4]] as const;
  for (const [type, name, threads] of cases) {
    it(`restores a 200k-element ${name} exactly on ${threads} threads`, async () => {
      const perCpu = type === MAP_TYPE.PERCPU_HASH;
      const n = 200_000;
      const stride = perCpu ? 8 * CPUS : 8;
      const contents = elements(n, stride);
      writeSyntheticDump(scratch.dir, [
        {
          spec: new MapSpec({ mapType: type, keySize: 4, valueSize: 8, maxEntries: n, mapFlags: 0, name: "large", mapId: 700, possibleCpus: perCpu ? CPUS : undefined }),
          contents,
          dataExt: perCpu ? { possible_cpus: CPUS } : undefined,
        },
      ]);
      const r = new TestRestore(scratch.dir);
      const before = process.env.CRTOOL_THREADS;
      process.env.CRTOOL_THREADS = String(threads);
      try {
        const fd = await r.restoreFile(1);
        // Each range's first and last element, and the map's.
        const bounds = Array.from({ length: threads + 1 }, (_, t) => Math.floor((n * t) / threads));
        for (const i of [...new Set([0, ...bounds.flatMap((b) => [b - 1, b])])].filter((i) => i >= 0 && i < n)) {
          const got = Buffer.alloc(stride);
          expect(mapLookupElem(fd, contents.keys.subarray(i * 4, i * 4 + 4), got)).toBe(true);
          expect(got.equals(contents.values.subarray(i * stride, (i + 1) * stride))).toBe(true);
        }
        expect(await verifyRestoredMaps(r.ctx)).toEqual([]);
      } finally {
        if (before === undefined) delete process.env.CRTOOL_THREADS;
        else process.env.CRTOOL_THREADS = before;
        await r.finish();
      }
    });
  }
});
