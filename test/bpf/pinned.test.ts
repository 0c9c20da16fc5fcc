/**
 * Objects pinned on a bpffs (`crtool dump --pinned DIR`): maps found
 * recursively and dumped with their pin path recorded; pinned programs
 * recorded for inspection, listed by `crit x DIR fds` and reported (not
 * re-created) by `restore --pin`.
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
import { HAVE_DIST, TestDump, elementsOf } from "./harness.js";
import { runCli } from "../helpers/run-cli.js";
import { specFromImage } from "../../src/bpf/map-spec-image.js";

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
      expect(specFromImage(entries[2]).pinPath).toBe(join(fs.dir, "sub", "a_again"));
      expect(data.map((d) => d.message.map_id)).toEqual([ids.a, ids.b]);
      expect(elementsOf(data[0], 4, 4)).toEqual([["01000000", "0a000000"]]);
    } finally {
      closePinned(found);
      dump.cleanup();
    }
  });

  it("dump --pinned records pinned programs; crit x fds lists the pins; restore --pin says what it left out", (ctx) => {
    if (!fs || !HAVE_DIST) return ctx.skip();
    const work = mkdtempSync(join(tmpdir(), "crtool-pinned-cli-"));
    try {
      const dir = join(work, "dump");
      const d = runCli("crtool", ["dump", "--pinned", fs.dir, "-D", dir, "--json"]);
      expect(d.status, d.stderr).toBe(0);
      const summary = JSON.parse(d.stdout.toString()) as { maps: number; objects: { where: string; what: string }[] };
      expect(summary.maps).toBe(2);
      expect(summary.objects).toEqual([{ where: `pinned ${join(fs.dir, "a_prog")}`, what: expect.stringMatching(/^BPF program "" \(id \d+, SOCKET_FILTER\)$/) }]);
      const x = runCli("crit", ["x", dir, "fds"]);
      expect(x.status, x.stderr).toBe(0);
      expect(x.stdout.toString().split("\n")).toEqual([
        "pinned BPF objects (crtool dump --pinned)",
        `\t${join(fs.dir, "a_map")}: BPF map "pin_a" (id ${ids.a})`,
        expect.stringMatching(new RegExp(`^\\t${join(fs.dir, "a_prog")}: BPF program "" \\(id \\d+, SOCKET_FILTER\\)$`)),
        `\t${join(fs.dir, "b_map")}: BPF map "pin_b" (id ${ids.b})`,
        `\t${join(fs.dir, "sub", "a_again")}: BPF map "pin_a" (id ${ids.a})`,
        "",
      ]);
      const ps = runCli("crit", ["x", dir, "ps"]);
      expect(ps.status).toBe(1);
      expect(ps.stderr).toContain("this is a dump of pinned BPF objects (crtool dump --pinned): it has no processes");
      const cmd = runCli("crtool", ["restore", "-D", dir, "--", "true"]);
      expect(cmd.status).toBe(1);
      expect(cmd.stderr).toBe(`crtool: ${dir} is a dump of pinned BPF objects (crtool dump --pinned), with no process: restore its maps with --pin BPFFS_DIR or --pin-recorded\n`);
      const target = join(fs.dir, "restored");
      const r = runCli("crtool", ["restore", "-D", dir, "--pin", target, "--json"]);
      expect(r.status, r.stderr).toBe(0);
      const restored = JSON.parse(r.stdout.toString()) as { maps: { name: string; pinPath: string }[]; skipped: { where: string; kind: string; why: string }[] };
      expect(restored.maps.map((m) => [m.name, m.pinPath])).toEqual([["pin_a", join(target, "pin_a")], ["pin_b", join(target, "pin_b")]]);
      expect(restored.skipped).toEqual([{ where: `pinned ${join(fs.dir, "a_prog")}`, kind: expect.stringMatching(/^BPF program "" \(id \d+ at dump time, SOCKET_FILTER\)$/), why: expect.stringMatching(/cannot load a BPF program again/) }]);
      for (const n of ["pin_a", "pin_b"]) unlinkSync(join(target, n));
      rmdirSync(target);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
