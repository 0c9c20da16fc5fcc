/**
 * The contents readers on maps this test creates: batch and per-element
 * reading agree, and QUEUE/STACK maps survive failures half-way through a
 * read with every element back in its place.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BPF_F_NO_PREALLOC, BPF_F_RDONLY, BPF_F_WRONLY, mapCreate, mapGetFdById, mapGetInfo, mapLookupAndDeleteElem, mapUpdateElem } from "../../src/kernel/index.js";
import { LiveMap } from "../../src/bpf/map.js";
import { readByBatch } from "../../src/bpf/read/batch.js";
import { readByIteration } from "../../src/bpf/read/iterate.js";
import { readByPopping } from "../../src/bpf/read/pop.js";
import type { ElementSink } from "../../src/bpf/spool.js";
import { FdSet, IS_ROOT, countBpfFds, u32, u64 } from "../kernel/helpers.js";

const fds = new FdSet();
let bpfFdsBefore = 0;
beforeAll(() => {
  bpfFdsBefore = countBpfFds();
});
afterEach(() => fds.closeAll());
afterAll(() => {
  if (IS_ROOT) expect(countBpfFds()).toBe(bpfFdsBefore);
});

/** A sink collecting [keyHex, valueHex] pairs. */
function collector(keySize: number, stride: number): ElementSink & { pairs: [string, string][] } {
  const pairs: [string, string][] = [];
  return {
    pairs,
    add(keys, values, count) {
      for (let i = 0; i < count; i++) {
        pairs.push([Buffer.from(keys.subarray(i * keySize, (i + 1) * keySize)).toString("hex"), Buffer.from(values.subarray(i * stride, (i + 1) * stride)).toString("hex")]);
      }
    },
  };
}

function drain(fd: number, size: number): number[] {
  const out: number[] = [];
  for (let v = Buffer.alloc(size); mapLookupAndDeleteElem(fd, null, v); v = Buffer.alloc(size)) out.push(v.readUInt32LE(0));
  return out;
}

describe.skipIf(!IS_ROOT)("map contents readers", () => {
  it("batch and per-element reading give the same elements (HASH with a crowded table, LPM_TRIE)", () => {
    const hash = fds.add(mapCreate({ mapType: "HASH", keySize: 4, valueSize: 8, maxEntries: 5000 }));
    for (let i = 0; i < 5000; i++) mapUpdateElem(hash, u32(Math.imul(i, 2654435761) >>> 0), u64(BigInt(i) * 3n));
    const lpm = fds.add(mapCreate({ mapType: "LPM_TRIE", keySize: 8, valueSize: 4, maxEntries: 300, mapFlags: BPF_F_NO_PREALLOC }));
    for (let i = 0; i < 256; i++) mapUpdateElem(lpm, Buffer.from([24, 0, 0, 0, 10, i, 0, 0]), u32(i));
    mapUpdateElem(lpm, Buffer.from([8, 0, 0, 0, 10, 0, 0, 0]), u32(999));
    for (const [fd, n] of [[hash, 5000], [lpm, 257]]) {
      const map = LiveMap.fromFd(fd);
      const a = collector(map.keySize, map.valueStride);
      const b = collector(map.keySize, map.valueStride);
      expect(readByBatch(map, a)).toBe(n);
      expect(readByIteration(map, b)).toBe(n);
      expect(a.pairs.sort()).toEqual(b.pairs.sort());
    }
  });

  it("reads through a new fd when the dumped one cannot read (write-only) or pop (a read-only QUEUE)", () => {
    const q = fds.add(mapCreate({ mapType: "QUEUE", keySize: 0, valueSize: 4, maxEntries: 4 }));
    mapUpdateElem(q, null, u32(1));
    const ro = fds.add(mapGetFdById(mapGetInfo(q).id, BPF_F_RDONLY));
    const map = LiveMap.fromFd(ro);
    const reader = map.forReading();
    expect(reader).not.toBe(map);
    try {
      const sink = collector(0, 4);
      expect(reader.readContents(sink)).toBe(1);
    } finally {
      reader.close();
    }
    const hash = fds.add(mapCreate({ mapType: "HASH", keySize: 4, valueSize: 4, maxEntries: 4 }));
    mapUpdateElem(hash, u32(3), u32(33));
    const rdonly = fds.add(mapGetFdById(mapGetInfo(hash).id, BPF_F_RDONLY));
    expect(LiveMap.fromFd(rdonly).forReading().fd).toBe(rdonly);
    const wronly = LiveMap.fromFd(fds.add(mapGetFdById(mapGetInfo(hash).id, BPF_F_WRONLY)));
    const again = wronly.forReading();
    try {
      expect(again).not.toBe(wronly);
      const sink = collector(4, 4);
      expect(again.readContents(sink)).toBe(1);
      expect(sink.pairs).toEqual([["03000000", "21000000"]]);
    } finally {
      again.close();
    }
  });

  it("puts a QUEUE and a STACK back when the recording sink fails", () => {
    for (const [type, oldestFirst] of [["QUEUE", true], ["STACK", false]] as const) {
      const fd = fds.add(mapCreate({ mapType: type, keySize: 0, valueSize: 4, maxEntries: 16 }));
      for (let i = 1; i <= 10; i++) mapUpdateElem(fd, null, u32(i));
      const failing: ElementSink = {
        add() {
          throw new Error("disk full");
        },
      };
      expect(() => readByPopping(LiveMap.fromFd(fd), failing, oldestFirst)).toThrow("disk full");
      expect(drain(fd, 4)).toEqual(oldestFirst ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] : [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    }
  });

  it("puts a QUEUE and a STACK back when the scratch file fills up half-way", (ctx) => {
    // A 16 KiB tmpfs: the 1 MiB chunks of 4 KiB values spool fine until it is full.
    const dir = mkdtempSync(join(tmpdir(), "crtool-tiny-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", dir]);
    } catch (e) {
      rmdirSync(dir);
      console.warn(`skipping: cannot mount a tmpfs (${(e as Error).message})`);
      return ctx.skip();
    }
    try {
      for (const [type, oldestFirst] of [["QUEUE", true], ["STACK", false]] as const) {
        const fd = fds.add(mapCreate({ mapType: type, keySize: 0, valueSize: 4096, maxEntries: 600 }));
        for (let i = 1; i <= 600; i++) mapUpdateElem(fd, null, Buffer.concat([u32(i), Buffer.alloc(4092)]));
        expect(() => readByPopping(LiveMap.fromFd(fd), collector(0, 4096), oldestFirst, dir)).toThrow(/no space left on device/);
        const expected = Array.from({ length: 600 }, (_, i) => i + 1);
        expect(drain(fd, 4096)).toEqual(oldestFirst ? expected : expected.reverse());
      }
    } finally {
      execFileSync("umount", [dir]);
      rmdirSync(dir);
    }
  });
});
