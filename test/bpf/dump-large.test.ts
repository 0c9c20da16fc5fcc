/**
 * Large hash maps are read on several threads, each a range of the buckets
 * into scratch files, joined in bucket order and copied into the image by
 * the kernel: the payload must be byte for byte what one reader walking the
 * whole map gets, the overlap of neighbouring ranges dropped once.
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAP_TYPE, close, kernelValueSize, mapCreate, mapUpdateBatch, objPin } from "../../src/kernel/index.js";
import { ImageReader } from "../../src/images/index.js";
import { IS_ROOT, bpffsDir, type Bpffs } from "../kernel/helpers.js";
import { runCli } from "../helpers/run-cli.js";
import { HAVE_DIST, readWhole } from "./harness.js";
import { LiveMap } from "../../src/bpf/map.js";
import { readByBatchParallel } from "../../src/bpf/read/parallel-batch.js";

async function payloadOf(dir: string): Promise<{ bytes: Buffer; count: number }> {
  const reader = await ImageReader.open(readFileSync(join(dir, "bpfmap-data.img")));
  const head = (await reader.next())!;
  const parts: Uint8Array[] = [];
  for await (const p of reader.payloadPieces()) parts.push(Buffer.from(p));
  return { bytes: Buffer.concat(parts), count: head.message.count as number };
}

describe.skipIf(!IS_ROOT || !HAVE_DIST)("dumping large hash maps", () => {
  let fs: Bpffs | null = null;
  const pins: string[] = [];
  const work = mkdtempSync(join(tmpdir(), "crtool-dump-large-"));
  afterAll(() => {
    for (const p of pins) if (existsSync(p)) unlinkSync(p);
    fs?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  for (const [type, name] of [[MAP_TYPE.HASH, "HASH"], [MAP_TYPE.PERCPU_HASH, "PERCPU_HASH"], [MAP_TYPE.LRU_HASH, "LRU_HASH"]] as const) {
    it(`writes a 200k-element ${name} exactly as one reader reads it`, async () => {
      fs ??= bpffsDir();
      if (!fs) return;
      const n = 200_000;
      const stride = kernelValueSize(type, 8);
      // Room to spare: an LRU map evicts before it is full.
      const fd = mapCreate({ mapType: name, keySize: 4, valueSize: 8, maxEntries: 2 * n, name: `lg_${name.toLowerCase()}` });
      const pin = join(fs.dir, `lg_${name.toLowerCase()}`);
      try {
        const keys = Buffer.alloc(n * 4);
        const values = Buffer.alloc(n * stride);
        for (let i = 0; i < n; i++) {
          keys.writeUInt32LE(Number((BigInt(i) * 2654435761n) & 0xffffffffn), i * 4);
          values.writeBigUInt64LE(BigInt(i) * 7n, i * stride);
        }
        for (let done = 0; done < n; ) done += mapUpdateBatch(fd, { keySize: 4, valueSize: stride, keys: keys.subarray(done * 4), values: values.subarray(done * stride), count: n - done });
        objPin(fd, pin);
        pins.push(pin);
        const expected = readWhole(fd, 4, stride);
        expect(expected.length).toBe(n * (4 + stride));
        const dir = join(work, name);
        const r = runCli("crtool", ["dump", "--pinned", fs.dir, "-D", dir]);
        expect(r.status, r.stderr).toBe(0);
        const got = await payloadOf(dir);
        expect(got.count).toBe(n);
        expect(got.bytes.length).toBe(expected.length);
        expect(got.bytes.equals(expected)).toBe(true);
      } finally {
        close(fd);
        if (existsSync(pin)) unlinkSync(pin);
      }
    });
  }

  // Ranges that find nothing, and batches that run past several ranges: a
  // sparse map (8 elements in 131,072 buckets) read in 2 to 8 ranges, and a
  // full one in 3 to 16 (more ranges than libuv's four threads).
  for (const [parts, count] of [[2, 8], [3, 8], [8, 8], [3, 100_000], [8, 100_000], [16, 100_000]] as const) {
    it(`reads ${count} elements in ${parts} ranges exactly as one reader does`, async () => {
      const fd = mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 1 << 17, name: "lg_ranges" });
      const map = LiveMap.fromFd(fd);
      try {
        const keys = Buffer.alloc(count * 4);
        const values = Buffer.alloc(count * 8);
        for (let i = 0; i < count; i++) {
          keys.writeUInt32LE(Number((BigInt(i) * 2654435761n) & 0xffffffffn), i * 4);
          values.writeBigUInt64LE(BigInt(i) * 7n, i * 8);
        }
        mapUpdateBatch(fd, { keySize: 4, valueSize: 8, keys, values, count });
        const expected = readWhole(fd, 4, 8);
        const spooled = await readByBatchParallel(map, { spoolDir: work, ranges: parts });
        try {
          expect(spooled.count).toBe(count);
          expect(Buffer.concat([...spooled.pieces()]).equals(expected)).toBe(true);
        } finally {
          spooled.close();
        }
      } finally {
        close(fd);
      }
    });
  }
});
