/**
 * Images are trusted input to restore, but an obviously damaged or hostile
 * one is refused before the kernel is asked for anything: no map is created,
 * nothing is pinned.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { encodeImage, type ImageMessage } from "../../src/images/index.js";
import { runCli } from "../helpers/run-cli.js";
import { IS_ROOT, scratch } from "../fds/helpers.js";

if (!IS_ROOT) console.warn("skipping hostile-image tests: not running as root");
const HAVE_BPFTOOL = spawnSync("bpftool", ["version"]).status === 0;
const cleanups: (() => void)[] = [];
afterAll(() => cleanups.splice(0).reverse().forEach((f) => f()));

const fown = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };

function dumpDir(root: string, name: string, bpf: Partial<ImageMessage>, data: { message: ImageMessage; payload?: Uint8Array }[], raw?: Uint8Array): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "inventory.img"), encodeImage("INVENTORY", [{ message: { img_version: 2 } }]));
  const entry = { id: 1, flags: 2, pos: 0n, fown, map_type: 1, key_size: 4, value_size: 8, map_id: 7, max_entries: 16, map_flags: 0, memlock: 4096n, frozen: false, map_name: name, ifindex: 0, ...bpf };
  writeFileSync(join(dir, "files.img"), encodeImage("FILES", [{ message: { type: 19, id: 1, bpf: entry } }]));
  writeFileSync(join(dir, "bpfmap-data.img"), raw ?? encodeImage("BPFMAP_DATA", data));
  return dir;
}

function mapsNamed(prefix: string): string[] {
  if (!HAVE_BPFTOOL) return [];
  const list = JSON.parse(spawnSync("bpftool", ["map", "show", "-j"], { encoding: "utf8", maxBuffer: 1 << 28 }).stdout || "[]") as { name?: string }[];
  return list.filter((m) => m.name?.startsWith(prefix)).map((m) => m.name!);
}

describe.skipIf(!IS_ROOT)("hostile images", () => {
  const s = scratch("hostile");
  cleanups.push(s.cleanup);
  const mount = join(s.dir, "bpffs");
  // bpffs shows maps.debug and progs.debug at its root: pin below it.
  const pins = join(mount, "pins");
  const prefix = `h${randomBytes(2).toString("hex")}`;

  function refused(dir: string, why: RegExp): void {
    // --dry-run refuses it too, without any call into the kernel.
    const dry = runCli("crtool", ["restore", "-D", dir, "--dry-run"]);
    expect(dry.status).toBe(1);
    expect(dry.stderr).toMatch(why);
    const r = runCli("crtool", ["restore", "-D", dir, "--pin", pins]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(why);
    expect(readdirSync(pins)).toEqual([]);
    expect(mapsNamed(prefix)).toEqual([]);
  }

  it("mounts a bpffs for the pins", () => {
    mkdirSync(mount);
    expect(spawnSync("mount", ["-t", "bpf", "bpf", mount]).status).toBe(0);
    cleanups.push(() => spawnSync("umount", [mount]));
    mkdirSync(pins);
  });

  it("a map larger than this machine's memory", () => {
    const dir = dumpDir(s.dir, `${prefix}_big`, { map_type: 2, value_size: 65536, max_entries: 0x7fffffff }, [{ message: { map_id: 7, keys_bytes: 0, values_bytes: 0, count: 0 } }]);
    refused(dir, /more than this machine's memory/);
  });

  it("more elements than max_entries", () => {
    const payload = new Uint8Array(20 * 12);
    const dir = dumpDir(s.dir, `${prefix}_many`, {}, [{ message: { map_id: 7, keys_bytes: 80, values_bytes: 160, count: 20 }, payload }]);
    refused(dir, /holds 20 elements, more than its max_entries \(16\)/);
  });

  it("contents shorter than the entry says", () => {
    const full = encodeImage("BPFMAP_DATA", [{ message: { map_id: 7, keys_bytes: 40, values_bytes: 80, count: 10 }, payload: new Uint8Array(120) }]);
    const dir = dumpDir(s.dir, `${prefix}_short`, {}, [], full.subarray(0, full.length - 50));
    refused(dir, /truncated payload/);
  });

  it("keys and values that do not match the count", () => {
    const dir = dumpDir(s.dir, `${prefix}_odd`, {}, [{ message: { map_id: 7, keys_bytes: 12, values_bytes: 8, count: 2 }, payload: new Uint8Array(20) }]);
    refused(dir, /bpfmap-data|keys|values/);
  });
});
