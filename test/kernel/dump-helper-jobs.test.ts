/**
 * The dump helper thread's batch jobs, whoever runs them: a job the thread
 * has not started when the main thread waits for it is taken back and run on
 * the main thread (as are the jobs after it, newest first, while the thread
 * is busy), with the same results. With the thread dead from the start, the
 * main thread runs every job.
 */
import { describe, expect, it } from "vitest";
import { DumpHelperThread, close, mapCreate, mapUpdateBatch } from "../../src/kernel/index.js";
import { IS_ROOT } from "./helpers.js";

/** `count` HASH maps u32 -> u64, map m holding m % 7 elements. */
function makeMaps(count: number): { fds: number[]; want: Buffer[] } {
  const fds: number[] = [];
  const want: Buffer[] = [];
  for (let m = 0; m < count; m++) {
    const fd = mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 8, name: `hj_${m}` });
    fds.push(fd);
    const n = m % 7;
    const keys = Buffer.alloc(n * 4);
    const values = Buffer.alloc(n * 8);
    for (let i = 0; i < n; i++) {
      keys.writeUInt32LE(m * 10 + i, i * 4);
      values.writeBigUInt64LE(BigInt(m) * 100n + BigInt(i), i * 8);
    }
    if (n > 0) mapUpdateBatch(fd, { keySize: 4, valueSize: 8, keys, values, count: n });
    want.push(Buffer.concat([keys, values]));
  }
  return { fds, want };
}

/** The elements of a result as sorted "key:value" hex pairs (hash order is the kernel's). */
function pairs(keys: Uint8Array, values: Uint8Array, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`${Buffer.from(keys.subarray(i * 4, i * 4 + 4)).toString("hex")}:${Buffer.from(values.subarray(i * 8, i * 8 + 8)).toString("hex")}`);
  return out.sort();
}

describe.skipIf(!IS_ROOT)("the dump helper thread's batch jobs", () => {
  it("are run by the main thread when the thread is dead, with the thread's results", () => {
    const { fds, want } = makeMaps(20);
    const thread = new DumpHelperThread({ failAtStart: true });
    try {
      const jobs = fds.map((fd) => thread.submit({ fd, keySize: 4, valueSize: 8, capacity: 9 })!);
      // A job on an fd that is not a map: its error, as the thread would report it.
      const bad = thread.submit({ fd: 1_000_000, keySize: 4, valueSize: 8, capacity: 9 })!;
      for (let m = 0; m < fds.length; m++) {
        const r = thread.wait(jobs[m]);
        expect(r.errno, `map ${m}`).toBe(0);
        expect(pairs(r.keys, r.values, r.count)).toEqual(pairs(want[m].subarray(0, (m % 7) * 4), want[m].subarray((m % 7) * 4), m % 7));
      }
      expect(thread.wait(bad)).toMatchObject({ count: 0, errno: 9 });
      expect(thread.stolen).toBe(21);
    } finally {
      thread.close();
      for (const fd of fds) close(fd);
    }
  });

  it("give the same results whichever thread ran each of them", () => {
    const { fds, want } = makeMaps(300);
    const thread = new DumpHelperThread();
    try {
      const jobs = fds.map((fd) => thread.submit({ fd, keySize: 4, valueSize: 8, capacity: 9 })!);
      for (let m = 0; m < fds.length; m++) {
        const r = thread.wait(jobs[m]);
        const n = m % 7;
        expect(r.errno, `map ${m}`).toBe(0);
        expect(pairs(r.keys, r.values, r.count), `map ${m}`).toEqual(pairs(want[m].subarray(0, n * 4), want[m].subarray(n * 4), n));
      }
      expect(thread.stolen).toBeGreaterThanOrEqual(0);
      expect(thread.stolen).toBeLessThanOrEqual(300);
    } finally {
      thread.close();
      for (const fd of fds) close(fd);
    }
  });
});
