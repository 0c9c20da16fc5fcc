/**
 * `crtool restore --pin DIR`: restored maps pinned on a bpffs by name (or
 * map_<id at dump time>), or at their recorded pin paths; never over an
 * existing pin, never outside a bpffs, and removed again on rollback.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { MAP_TYPE, close, mapCreate, mapGetInfo, objGet, objPin } from "../../src/kernel/index.js";
import { MapSpec } from "../../src/bpf/map-spec.js";
import { MapPinError } from "../../src/bpf/restore/errors.js";
import { pinRestoredMaps } from "../../src/bpf/restore/pin.js";
import { IS_ROOT, countBpfFds } from "../kernel/helpers.js";
import { TestRestore, removeDir, tempDir, u32Elements, writeSyntheticDump } from "./restore-harness.js";

/** A bpffs directory's entries, without the ones the kernel makes at mount time (bpf_preload's *.debug). */
const listing = (dir: string) => readdirSync(dir).filter((n) => !n.endsWith(".debug")).sort();

const spec = (mapId: number, name: string) => new MapSpec({ mapType: MAP_TYPE.HASH, keySize: 4, valueSize: 4, maxEntries: 4, mapFlags: 0, name, mapId });

describe.skipIf(!IS_ROOT)("pinning restored maps", () => {
  let bpffs: string | undefined;
  let dumpDir: string;
  const fdsBefore = countBpfFds();

  beforeAll(() => {
    const dir = tempDir("crtool-bpffs-");
    const r = spawnSync("mount", ["-t", "bpf", "bpf", dir], { encoding: "utf8" });
    if (r.status !== 0) {
      console.warn(`skipping pin tests: cannot mount a bpffs (${(r.stderr || r.error?.message || "").trim()})`);
      rmdirSync(dir);
      return;
    }
    bpffs = dir;
    mkdirSync(join(dir, "recorded"));
  });

  afterAll(() => {
    if (bpffs) {
      execFileSync("umount", [bpffs]);
      rmdirSync(bpffs);
    }
    expect(countBpfFds()).toBe(fdsBefore);
  });

  afterEach(() => {
    if (dumpDir) removeDir(dumpDir);
  });

  /** A dump of three maps: "alpha", one without a name, and "gamma" recorded as pinned at recorded/g. */
  async function restored(): Promise<TestRestore> {
    dumpDir = tempDir("crtool-bpf-restore-");
    writeSyntheticDump(dumpDir, [
      { spec: spec(11, "alpha"), contents: u32Elements([1], 4) },
      { spec: spec(12, ""), contents: u32Elements([2], 4) },
      { spec: spec(13, "gamma").with({ pinPath: join(bpffs!, "recorded", "g") }), contents: u32Elements([3], 4) },
    ]);
    const r = new TestRestore(dumpDir);
    await (await r.session()).restoreAll();
    return r;
  }

  const pinnedId = (path: string) => {
    const fd = objGet(path);
    try {
      return mapGetInfo(fd).id;
    } finally {
      close(fd);
    }
  };

  it("pins each map at DIR/<name> or DIR/map_<id at dump time>, and removes the pins on rollback", async (ctx) => {
    if (!bpffs) return ctx.skip();
    const r = await restored();
    const maps = (await r.session()).maps;
    const pins = pinRestoredMaps(bpffs, maps, { recorded: false, onRollback: r.ctx.onRollback });
    expect(pins.map((p) => p.path)).toEqual([join(bpffs, "alpha"), join(bpffs, "map_12"), join(bpffs, "gamma")]);
    for (const p of pins) expect(pinnedId(p.path)).toBe(p.map.newId);
    r.rollback();
    expect(listing(bpffs)).toEqual(["recorded"]);
  });

  it("pins at the recorded pin paths with `recorded`, the others under DIR", async (ctx) => {
    if (!bpffs) return ctx.skip();
    const r = await restored();
    const maps = (await r.session()).maps;
    const sub = join(bpffs, "sub");
    mkdirSync(sub);
    try {
      const pins = pinRestoredMaps(sub, maps, { recorded: true, onRollback: r.ctx.onRollback });
      expect(pins.map((p) => p.path)).toEqual([join(sub, "alpha"), join(sub, "map_12"), join(bpffs, "recorded", "g")]);
      expect(pinnedId(join(bpffs, "recorded", "g"))).toBe(maps[2].newId);
      // Without DIR, only maps with a recorded path are pinned.
      r.rollback();
      const r2 = await restored();
      const only = pinRestoredMaps(undefined, (await r2.session()).maps, { recorded: true, onRollback: r2.ctx.onRollback });
      expect(only.map((p) => p.path)).toEqual([join(bpffs, "recorded", "g")]);
      await r2.finish();
      // finish() keeps the pins (the restore succeeded): they hold the map now.
      expect(existsSync(join(bpffs, "recorded", "g"))).toBe(true);
      execFileSync("rm", [join(bpffs, "recorded", "g")]);
    } finally {
      rmdirSync(sub);
    }
  });

  it("refuses a directory that is not on a bpffs", async (ctx) => {
    if (!bpffs) return ctx.skip();
    const r = await restored();
    const plain = tempDir("crtool-not-bpffs-");
    const maps = (await r.session()).maps;
    try {
      expect(() => pinRestoredMaps(plain, maps, { recorded: false })).toThrow(MapPinError);
      expect(() => pinRestoredMaps(plain, maps, { recorded: false })).toThrow(`cannot pin maps in ${plain}: it is not on a BPF filesystem (bpffs), usually mounted at /sys/fs/bpf`);
      expect(readdirSync(plain)).toEqual([]);
    } finally {
      removeDir(plain);
      r.rollback();
    }
  });

  it("never replaces an existing pin, and makes no pin at all then", async (ctx) => {
    if (!bpffs) return ctx.skip();
    const r = await restored();
    const other = mapCreate({ mapType: "ARRAY", keySize: 4, valueSize: 4, maxEntries: 1 });
    const taken = join(bpffs, "map_12");
    objPin(other, taken);
    const maps = (await r.session()).maps;
    try {
      expect(() => pinRestoredMaps(bpffs!, maps, { recorded: false, onRollback: r.ctx.onRollback })).toThrow(
        `cannot pin BPF map (id 12 at dump time, HASH) at ${taken}: the path exists; crtool never replaces a pin`,
      );
      expect(listing(bpffs)).toEqual(["map_12", "recorded"]);
      expect(pinnedId(taken)).toBe(mapGetInfo(other).id);
    } finally {
      close(other);
      execFileSync("rm", [taken]);
      r.rollback();
    }
  });

  it("refuses two maps claiming one pin path", async (ctx) => {
    if (!bpffs) return ctx.skip();
    dumpDir = tempDir("crtool-bpf-restore-");
    writeSyntheticDump(dumpDir, [
      { spec: spec(21, "same"), contents: u32Elements([], 4) },
      { spec: spec(22, "same"), contents: u32Elements([], 4) },
    ]);
    const r = new TestRestore(dumpDir);
    try {
      const maps = await (await r.session()).restoreAll();
      expect(() => pinRestoredMaps(bpffs!, maps, { recorded: false })).toThrow(/both be pinned at .*\/same; give them different names/);
      expect(listing(bpffs)).toEqual(["recorded"]);
    } finally {
      r.rollback();
    }
  });
});
