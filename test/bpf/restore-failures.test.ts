/**
 * Restores that fail part-way leave nothing behind: no new map (by id), no
 * BTF object, no fd of crtool's, once the failed step has thrown and the
 * restore's rollback has run. And each failure says what and why.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAP_TYPE, intTypesBtf } from "../../src/kernel/index.js";
import { CrtoolError, NotSupportedError, TruncatedImageError } from "../../src/images/errors.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { BtfRestoreError, MapRestoreError } from "../../src/bpf/restore/errors.js";
import { IS_ROOT, countBpfFds } from "../kernel/helpers.js";
import { TestRestore, btfIds, mapIdsAboveSettled, maxMapId, removeDir, tempDir, u32Elements, writeSyntheticDump } from "./restore-harness.js";
import { readFileSync, truncateSync } from "node:fs";
import { join } from "node:path";

const hashSpec = (over: Partial<ConstructorParameters<typeof MapSpec>[0]> = {}) =>
  new MapSpec({ mapType: MAP_TYPE.HASH, keySize: 4, valueSize: 8, maxEntries: 8, mapFlags: 0, name: "h", mapId: 100, ...over });

/** Two INT types, "u32" (id 1) and "u64" (id 2). */
const twoIntBtf = () => intTypesBtf([{ name: "u32", size: 4 }, { name: "u64", size: 8 }]);

describe.skipIf(!IS_ROOT)("failed map restores", () => {
  let dir: string;
  let above: number;
  let btfBefore: number[];
  let fdsBefore: number;

  beforeEach(() => {
    dir = tempDir("crtool-bpf-restore-");
    above = maxMapId();
    btfBefore = btfIds();
    fdsBefore = countBpfFds();
  });

  afterEach(() => {
    removeDir(dir);
  });

  /** Restores file `fileId`, expects it to fail, rolls back, checks nothing is left; returns the error. */
  async function failing(fileId: number, r = new TestRestore(dir)): Promise<Error> {
    const err = await r.restoreFile(fileId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrtoolError);
    r.rollback();
    expect(await mapIdsAboveSettled(above), "maps left behind").toEqual([]);
    // Compared as "no new ones": maps freed earlier release their BTF later, from a kernel work queue.
    expect(btfIds().filter((id) => !btfBefore.includes(id)), "BTF objects left behind").toEqual([]);
    expect(countBpfFds(), "fds left open").toBe(fdsBefore);
    return err as Error;
  }

  it("refuses a BTF blob the kernel rejects, saying so", async () => {
    const good = twoIntBtf();
    const bad = Buffer.from(good);
    bad.writeUInt32LE(0xffff, 16); // str_off past the end
    writeSyntheticDump(dir, [
      { spec: hashSpec({ name: "plain", mapId: 99 }), contents: u32Elements([1], 8) },
      { spec: hashSpec({ btf: { id: 7, keyTypeId: 1, valueTypeId: 2, vmlinuxValueTypeId: 0, data: bad } }), contents: u32Elements([1, 2], 8) },
    ]);
    const r = new TestRestore(dir);
    await r.restoreFile(1);
    const err = await failing(2, r);
    expect(err).toBeInstanceOf(BtfRestoreError);
    expect(err.message).toMatch(/^BPF map "h" \(id 100 at dump time, HASH\): the kernel refused its BTF \(id 7 at dump time, \d+ bytes\): bpf\(BPF_BTF_LOAD\)/);
  });

  it("refuses BTF types the blob does not have", async () => {
    writeSyntheticDump(dir, [{ spec: hashSpec({ btf: { id: 7, keyTypeId: 1, valueTypeId: 9, vmlinuxValueTypeId: 0, data: twoIntBtf() } }), contents: u32Elements([1], 8) }]);
    const err = await failing(1);
    expect(err).toBeInstanceOf(MapRestoreError);
    expect(err.message).toMatch(/the kernel refused to create it \(.*BTF key type 1, value type 9\): bpf\(BPF_MAP_CREATE\)/);
  });

  it("refuses a BTF id whose blob is in no record", async () => {
    writeSyntheticDump(dir, [{ spec: hashSpec({ btf: { id: 7, keyTypeId: 1, valueTypeId: 2, vmlinuxValueTypeId: 0, data: undefined } }), contents: u32Elements([1], 8) }]);
    expect((await failing(1)).message).toMatch(/its BTF \(id 7 at dump time\) is not in the image/);
  });

  it("refuses more elements than max_entries before creating anything", async () => {
    writeSyntheticDump(dir, [{ spec: hashSpec({ maxEntries: 2 }), contents: u32Elements([1, 2, 3], 8) }]);
    expect((await failing(1)).message).toBe(`BPF map "h" (id 100 at dump time, HASH): bpfmap-data.img entry 0 holds 3 elements, more than its max_entries (2)`);
  });

  it("closes a half-loaded map when the kernel refuses an element", async () => {
    // An ARRAY key past max_entries: the batch writes key 0 and stops at key 9 (E2BIG).
    writeSyntheticDump(dir, [{ spec: hashSpec({ mapType: MAP_TYPE.ARRAY, maxEntries: 2 }), contents: u32Elements([0, 9], 8) }]);
    const err = await failing(1);
    expect(err.message).toMatch(/^BPF map "h" \(id 100 at dump time, ARRAY\): writing element 2 of 2 \(key 09000000\) failed: bpf\(BPF_MAP_UPDATE_BATCH\)/);
  });

  it("rolls back inner maps already restored when their map-in-map fails", async () => {
    const inner = (mapId: number) => hashSpec({ mapId, name: `in_${mapId}`, valueSize: 4 });
    const outerValues = Buffer.from(Uint32Array.of(201, 202, 999).buffer);
    writeSyntheticDump(dir, [
      { spec: inner(201), contents: u32Elements([1], 4), fileExt: { inner_of_map_id: 300 } },
      { spec: inner(202), contents: u32Elements([2], 4), fileExt: { inner_of_map_id: 300 } },
      {
        spec: hashSpec({ mapType: MAP_TYPE.HASH_OF_MAPS, valueSize: 4, mapId: 300, name: "outer", inner: inner(201) }),
        contents: { keys: Buffer.from(Uint32Array.of(1, 2, 3).buffer), values: outerValues, count: 3 },
      },
    ]);
    const err = await failing(3);
    expect(err.message).toBe(`BPF map "outer" (id 300 at dump time, HASH_OF_MAPS) holds inner map 999 (id at dump time), which has no record in files.img`);
  });

  it("names the ifindex of a device that does not exist", async () => {
    writeSyntheticDump(dir, [{ spec: hashSpec({ ifindex: 65000 }), contents: u32Elements([], 8) }]);
    expect((await failing(1)).message).toBe(`BPF map "h" (id 100 at dump time, HASH) was offloaded to network device ifindex 65000, and there is no such device here`);
  });

  it("says which map's contents are missing or truncated", async () => {
    writeSyntheticDump(dir, [{ spec: hashSpec() }]);
    expect((await failing(1)).message).toBe(`BPF map "h" (id 100 at dump time, HASH): bpfmap-data.img has no contents for it`);

    writeSyntheticDump(dir, [{ spec: hashSpec(), contents: u32Elements([1, 2, 3], 8) }]);
    const path = join(dir, "bpfmap-data.img");
    truncateSync(path, readFileSync(path).byteLength - 5);
    expect(await failing(1)).toBeInstanceOf(TruncatedImageError);
  });

  it("restores a map whose contents were not dumped only with --skip-unsupported, empty", async () => {
    writeSyntheticDump(dir, [{ spec: hashSpec(), fileExt: { contents_skipped: "just because" } }]);
    const err = await failing(1);
    expect(err).toBeInstanceOf(NotSupportedError);
    expect(err.message).toMatch(/its contents were not dumped \(just because\); restore with --skip-unsupported/);
    const r = new TestRestore(dir, { skipUnsupported: true });
    try {
      await r.restoreFile(1);
      expect((await r.session()).maps[0].count).toBe(0);
    } finally {
      await r.finish();
    }
  });
});
