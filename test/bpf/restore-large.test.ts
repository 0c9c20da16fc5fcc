/**
 * Large hash maps load on two threads (each writing half of the elements):
 * the result must be exactly the recorded contents, per-CPU ones included.
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

  for (const [type, name] of [[MAP_TYPE.HASH, "HASH"], [MAP_TYPE.PERCPU_HASH, "PERCPU_HASH"]] as const) {
    it(`restores a 200k-element ${name} exactly`, async () => {
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
      try {
        const fd = await r.restoreFile(1);
        for (const i of [0, 1, n / 2 - 1, n / 2, n - 1]) {
          const got = Buffer.alloc(stride);
          expect(mapLookupElem(fd, contents.keys.subarray(i * 4, i * 4 + 4), got)).toBe(true);
          expect(got.equals(contents.values.subarray(i * stride, (i + 1) * stride))).toBe(true);
        }
        expect(await verifyRestoredMaps(r.ctx)).toEqual([]);
      } finally {
        await r.finish();
      }
    });
  }
});
