/**
 * Restoring the BPF maps of real CRIU 4.2 dumps (the shared fixtures): each
 * restored map must match what bpftool showed of the live map before the
 * dump (proc/bpftool), and each open file the process's fdinfo — where CRIU's
 * own restore lost the sharing of one map between open files and the
 * read-only access mode, crtool keeps both.
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { O_CLOEXEC, close, mapCreate, mapGetInfo, mapGetNextKey, mapIds, mapLookupElem, mapUpdateElem, mapTypeName } from "../../src/kernel/index.js";
import { decodeImage, type ImageMessage } from "../../src/images/index.js";
import { verifyRestoredMaps } from "../../src/bpf/restore/verify.js";
import { IS_ROOT, countBpfFds } from "../kernel/helpers.js";
import { FIXTURES } from "../helpers/fixtures.js";
import { bpftoolMapDump, type BpftoolElement } from "./harness.js";
import { TestRestore, elementSet, fdinfoWithoutId } from "./restore-harness.js";

const SCENARIOS = ["bpf-basic", "bpf-flags"].filter((s) => existsSync(join(FIXTURES, s, "images")));
if (SCENARIOS.length < 2) console.warn(`skipping some CRIU 4.2 BPF fixture tests: not found under ${FIXTURES}`);

const memlock = (fdinfo: string) => Number(/^memlock:\s*(\d+)/m.exec(fdinfo)![1]);

/**
 * The memlock this kernel gives a new map of the same shape holding the same
 * elements (a BPF_F_NO_PREALLOC map's figure grows with its elements).
 */
function freshMemlock(from: number, info: ReturnType<typeof mapGetInfo>): number {
  const fd = mapCreate({ mapType: info.type, keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, mapFlags: info.mapFlags });
  try {
    const key = new Uint8Array(info.keySize);
    const value = new Uint8Array(info.valueSize);
    for (let prev: Uint8Array | null = null; mapGetNextKey(from, prev, key); prev = key.slice()) {
      if (mapLookupElem(from, key, value)) mapUpdateElem(fd, key, value);
    }
    return memlock(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
  } finally {
    close(fd);
  }
}

interface FdRecord {
  fd: number;
  fileId: number;
}

async function fdTable(images: string): Promise<FdRecord[]> {
  const { entries } = await decodeImage(readFileSync(join(images, "fdinfo-2.img")), "fdinfo-2.img");
  return entries.filter((e) => e.message.type === 19).map((e) => ({ fd: e.message.fd as number, fileId: e.message.id as number }));
}

describe.skipIf(!IS_ROOT)("restoring the BPF maps of CRIU 4.2 dumps", () => {
  const bpfFdsBefore = countBpfFds();
  afterAll(() => expect(countBpfFds()).toBe(bpfFdsBefore));

  for (const scenario of SCENARIOS) {
    describe(scenario, () => {
      const base = join(FIXTURES, scenario);
      const images = join(base, "images");

      it("re-creates every map as bpftool showed it before the dump, with the same contents", async (ctx) => {
        const restore = new TestRestore(images);
        try {
          const fds = await fdTable(images);
          const byFile = new Map<number, number>();
          for (const { fileId } of fds) if (!byFile.has(fileId)) byFile.set(fileId, await restore.restoreFile(fileId));
          const files = await restore.fileEntries();
          for (const { fd, fileId } of fds) {
            const rec = files.find((f) => f.id === fileId)!.bpf as ImageMessage;
            const oldId = rec.map_id as number;
            const ours = byFile.get(fileId)!;
            const info = mapGetInfo(ours);
            const show = JSON.parse(readFileSync(join(base, `proc/bpftool/map-show-id-${oldId}.json`), "utf8")) as Record<string, unknown>;
            expect(info.id).not.toBe(oldId);
            expect({
              type: mapTypeName(info.type)!.toLowerCase(),
              name: info.name,
              flags: info.mapFlags,
              bytes_key: info.keySize,
              bytes_value: info.valueSize,
              max_entries: info.maxEntries,
            }, `fd ${fd}`).toEqual({ type: show.type, name: show.name, flags: show.flags, bytes_key: show.bytes_key, bytes_value: show.bytes_value, max_entries: show.max_entries });

            // fdinfo as the process had it, but map_id; the access mode too (CRIU's restore made fd 10 O_RDWR).
            const was = readFileSync(join(base, `proc/fdinfo/${fd}`), "utf8");
            const now = readFileSync(`/proc/self/fdinfo/${ours}`, "utf8");
            // memlock is this kernel's accounting: the fixtures' machine counted differently (64 bytes
            // more or less per HASH map on the same release), so it is compared with a fresh map of the
            // same shape made here.
            expect(fdinfoWithoutId(now, { flags: false, memlock: false }), `fd ${fd}`).toEqual(fdinfoWithoutId(was, { flags: false, memlock: false }));
            const flags = (t: string) => parseInt(/^flags:\s*(\d+)/m.exec(t)![1], 8) & ~O_CLOEXEC;
            expect(flags(now), `fd ${fd} flags`).toBe(flags(was));
            expect(memlock(now), `fd ${fd} memlock`).toBe(freshMemlock(ours, info));

            const theirs = JSON.parse(readFileSync(join(base, `proc/bpftool/map-dump-id-${oldId}.json`), "utf8")) as BpftoolElement[];
            const mine = bpftoolMapDump(info.id);
            if (!mine) return ctx.skip();
            expect(elementSet(mine), `fd ${fd}`).toEqual(elementSet(theirs));
          }
          expect(await verifyRestoredMaps(restore.ctx)).toEqual([]);
        } finally {
          await restore.finish();
        }
      });
    });
  }

  it.skipIf(!SCENARIOS.includes("bpf-flags"))("bpf-flags: keeps one map behind fds 7-10 and fd 10 read-only", async () => {
    const images = join(FIXTURES, "bpf-flags", "images");
    const restore = new TestRestore(images);
    const idsBefore = new Set(mapIds());
    try {
      const fds = await fdTable(images);
      const byFile = new Map<number, number>();
      for (const { fileId } of fds) if (!byFile.has(fileId)) byFile.set(fileId, await restore.restoreFile(fileId));
      const fdOf = (n: number) => byFile.get(fds.find((f) => f.fd === n)!.fileId)!;
      // fds 7 and 9 are one open file (one file id); 8 and 10 open files of their own; all one map.
      expect(new Set([7, 8, 9, 10].map(fdOf)).size).toBe(3);
      expect(new Set([7, 8, 9, 10].map((n) => mapGetInfo(fdOf(n)).id)).size).toBe(1);
      // Five maps in the image (one per map id), five new maps, however many data entries CRIU wrote.
      expect(mapIds().filter((id) => !idsBefore.has(id))).toHaveLength(5);
      expect(() => mapUpdateElem(fdOf(10), Buffer.from([7, 0, 0, 0]), Buffer.from([1, 0, 0, 0]))).toThrow(expect.objectContaining({ code: "EPERM" }));
      mapUpdateElem(fdOf(8), Buffer.from([7, 0, 0, 0]), Buffer.from([71, 0, 0, 0]));
      const dump = bpftoolMapDump(mapGetInfo(fdOf(7)).id);
      if (dump) expect(elementSet(dump)).toContain("07000000=47000000");
    } finally {
      await restore.finish();
    }
  });
});
