/**
 * ContentsPrefetch with a helper thread whose job table holds 8 jobs: a dump
 * of many small maps fills it again and again, so every offer past the first
 * eight waits for the thread (offerAfterDrain) before its job fits. Every map
 * must still be written once, in the order offered, with what one reader
 * reads; and every fd the prefetch took must be closed in the end (by the
 * thread, through closeSoon, or after it is gone).
 */
import { describe, expect, it } from "vitest";
import { DumpHelperThread, close, mapCreate, mapUpdateBatch } from "../../src/kernel/index.js";
import { ContentsPrefetch, type PrefetchedContents } from "../../src/bpf/read/prefetch.js";
import { LiveMap } from "../../src/bpf/map.js";
import { IS_ROOT, countBpfFds } from "../kernel/helpers.js";
import { readWhole } from "./harness.js";

describe.skipIf(!IS_ROOT)("prefetching small maps through a full job table", () => {
  it("writes 150 maps once each, in order, as one reader reads them, and leaves no fd open", async () => {
    const before = countBpfFds();
    const fds: number[] = [];
    const thread = new DumpHelperThread({}, 8, 1 << 16);
    try {
      for (let m = 0; m < 150; m++) {
        const fd = mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 16, name: `pf_${m}` });
        fds.push(fd);
        const n = m % 17 === 0 ? 0 : 1 + (m % 16);
        const keys = Buffer.alloc(n * 4);
        const values = Buffer.alloc(n * 8);
        for (let i = 0; i < n; i++) {
          keys.writeUInt32LE(m * 100 + i, i * 4);
          values.writeBigUInt64LE(BigInt(m) * 1000n + BigInt(i), i * 8);
        }
        if (n > 0) mapUpdateBatch(fd, { keySize: 4, valueSize: 8, keys, values, count: n });
      }
      const expected = fds.map((fd) => readWhole(fd, 4, 8));
      const written: { index: number; bytes: Buffer; fromThread: boolean }[] = [];
      const prefetch = new ContentsPrefetch({ helper: () => thread });
      const writer = (index: number) => (map: LiveMap, got: PrefetchedContents | undefined) => {
        const bytes = got ? Buffer.concat([got.keys, got.values]) : readWhole(map.fd, 4, 8);
        written.push({ index, bytes, fromThread: got !== undefined });
      };
      for (let m = 0; m < fds.length; m++) {
        const map = LiveMap.fromFd(fds[m]);
        const taken = await prefetch.offer(map, writer(m));
        // Refused (the first 64, before the thread is worth it): the caller writes it now, after the earlier ones.
        if (!taken) {
          await prefetch.drain();
          writer(m)(map, undefined);
        }
      }
      await prefetch.drain();
      prefetch.close();
      expect(written.map((w) => w.index)).toEqual(fds.map((_, i) => i));
      for (const w of written) expect(w.bytes.equals(expected[w.index]), `map ${w.index}`).toBe(true);
      expect(written.filter((w) => w.fromThread).length).toBe(150 - 64);
      expect(prefetch.used).toBe(150 - 64);
    } finally {
      thread.close();
      for (const fd of fds) close(fd);
    }
    // The thread closes what was queued as it stops; what it did not, is closed once it is gone.
    for (let waited = 0; countBpfFds() !== before && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(countBpfFds()).toBe(before);
  }, 60_000);
});
