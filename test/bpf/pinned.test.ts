/**
 * Maps pinned on a bpffs (`crtool dump --pinned DIR`): found recursively,
 * other pinned objects left out, and dumped with their pin path recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, rmdirSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROG_TYPE, RETURN_ZERO_INSNS, mapCreate, mapGetInfo, mapUpdateElem, objPin, progLoad } from "../../src/kernel/index.js";
import { IoError } from "../../src/images/errors.js";
import type { ImageMessage } from "../../src/images/index.js";
import { closePinned, findPinnedMaps, type PinnedMap } from "../../src/bpf/pinned.js";
import { dumpPinnedMap } from "../../src/bpf/dump-map.js";
import { getExtFields } from "../../src/images/ext-fields.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { FdSet, IS_ROOT, bpffsDir, countBpfFds, u32, type Bpffs } from "../kernel/helpers.js";
import { TestDump, elementsOf } from "./harness.js";

describe.skipIf(!IS_ROOT)("pinned maps", () => {
  const fds = new FdSet();
  let fs: Bpffs | null;
  const pins: string[] = [];
  const ids: Record<string, number> = {};
  let bpfFdsBefore = 0;

  beforeAll(() => {
    bpfFdsBefore = countBpfFds();
    fs = bpffsDir();
    if (!fs) return;
    mkdirSync(join(fs.dir, "sub"));
    const pin = (fd: number, rel: string) => {
      objPin(fd, join(fs!.dir, rel));
      pins.push(join(fs!.dir, rel));
    };
    const a = fds.add(mapCreate({ mapType: "HASH", keySize: 4, valueSize: 4, maxEntries: 4, name: "pin_a" }));
    mapUpdateElem(a, u32(1), u32(10));
    const b = fds.add(mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 2, name: "pin_b" }));
    const prog = fds.add(progLoad({ progType: PROG_TYPE.SOCKET_FILTER, insns: RETURN_ZERO_INSNS }));
    pin(b, "b_map");
    pin(a, "a_map");
    pin(prog, "a_prog");
    pin(a, "sub/a_again");
    ids.a = mapGetInfo(a).id;
    ids.b = mapGetInfo(b).id;
    fds.closeAll();
  });

  afterAll(() => {
    for (const p of pins) unlinkSync(p);
    if (fs) {
      rmdirSync(join(fs.dir, "sub"));
      fs.cleanup();
    }
    if (IS_ROOT) expect(countBpfFds()).toBe(bpfFdsBefore);
  });

  it("finds every pinned map under a directory, recursively, in path order", (ctx) => {
    if (!fs) return ctx.skip();
    const found = findPinnedMaps(fs.dir);
    try {
      expect(found.map((m) => m.path)).toEqual([join(fs.dir, "a_map"), join(fs.dir, "b_map"), join(fs.dir, "sub", "a_again")]);
      expect(found.map((m) => mapGetInfo(m.fd).id)).toEqual([ids.a, ids.b, ids.a]);
    } finally {
      closePinned(found);
    }
  });

  it("refuses a directory that is not on a bpffs", () => {
    const dir = mkdtempSync(join(tmpdir(), "crtool-not-bpffs-"));
    try {
      expect(() => findPinnedMaps(dir)).toThrow(IoError);
      expect(() => findPinnedMaps(dir)).toThrow(/is not on a BPF filesystem/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("dumps each pin as a file entry with its path, contents once per map", async (ctx) => {
    if (!fs) return ctx.skip();
    const dump = new TestDump();
    let found: PinnedMap[] = [];
    try {
      found = findPinnedMaps(fs.dir);
      for (const pin of found) {
        const id = dump.ctx.newFileId();
        dump.ctx.addFile({ type: 19, id, bpf: await dumpPinnedMap(pin, id, dump.ctx) });
      }
      const { files, data } = await dump.finish();
      const entries = files.map((f) => f.bpf as ImageMessage);
      expect(entries.map((e) => [e.map_id, getExtFields("bpfmap_file_entry", e).pin_path])).toEqual(found.map((p) => [mapGetInfo(p.fd).id, p.path]));
      expect(entries[0]).toMatchObject({ flags: 2, pos: 0n, map_name: "pin_a", fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 } });
      expect(MapSpec.fromImage(entries[2]).pinPath).toBe(join(fs.dir, "sub", "a_again"));
      expect(data.map((d) => d.message.map_id)).toEqual([ids.a, ids.b]);
      expect(elementsOf(data[0], 4, 4)).toEqual([["01000000", "0a000000"]]);
    } finally {
      closePinned(found);
      dump.cleanup();
    }
  });
});
