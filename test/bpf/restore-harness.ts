/**
 * The BPF restore tests' bench: a RestoreContext over a dump directory (what
 * `crtool restore` will build, minus processes), the holder's maps captured
 * before it is killed, and comparisons with what CRIU's own tests check.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRestoreContext, type LoadedEntry, type RestoreContext, type RestoreOptions } from "../../src/contract/restore-context.js";
import { openImage } from "../../src/io/input.js";
import { decodeImage, encodeImage, type ImageMessage, type MagicName } from "../../src/images/index.js";
import { btfGetNextId, close, mapGetFdById, mapGetInfo, mapIds, type MapInfo } from "../../src/kernel/index.js";
import { bpfMapKind } from "../../src/fds/bpfmap.js";
import { MapRestoreSession } from "../../src/bpf/restore/session.js";
import type { MapSpec } from "../../src/bpf/map-spec.js";
import type { FownEntry } from "../../src/images/schema/types.js";
import { NO_FOWN } from "../../src/bpf/dump-map.js";
import { setExtFields, type CrtoolBpfmapDataExt, type CrtoolBpfmapFileExt } from "../../src/images/ext-fields.js";
import { bpftoolMapDump, bytesHex, type BpftoolElement, type Holder } from "./harness.js";
import { afterAll, afterEach, beforeEach, expect } from "vitest";
import { countBpfFds } from "../kernel/helpers.js";
import { fileEntryOf } from "../../src/bpf/map-spec-image.js";

export class TestRestore {
  readonly logs: string[] = [];
  readonly ctx: RestoreContext;
  /** fds restore() returned: the orchestrator's to close. */
  readonly fds: number[] = [];
  private readonly undo: (() => void)[] = [];
  private files: ImageMessage[] | undefined;

  constructor(readonly dir: string, options: Partial<RestoreOptions> & Record<string, unknown> = {}) {
    this.ctx = createRestoreContext({
      options: { skipUnsupported: false, verbose: false, ...options },
      dir,
      pid: process.pid,
      loadImage: async (name) => {
        let bytes: Uint8Array;
        try {
          bytes = readFileSync(join(dir, name));
        } catch {
          return undefined;
        }
        return (await decodeImage(bytes, name)).entries.map((e): LoadedEntry => ({ message: e.message, payload: e.payload }));
      },
      openImage: async (name) => {
        const path = join(dir, name);
        if (!existsSync(path)) return undefined;
        return { reader: await openImage(path), path };
      },
      fileEntry: (id) => this.files?.find((f) => f.id === id),
      restoreFile: () => Promise.reject(new Error("not in this bench")),
      fileIdOfFd: () => undefined,
      onRollback: (fn) => this.undo.push(fn),
      log: (m) => this.logs.push(m),
    });
  }

  /** files.img entries. */
  async fileEntries(): Promise<ImageMessage[]> {
    this.files ??= ((await this.ctx.loadImage("files.img")) ?? []).map((e) => e.message);
    return this.files;
  }

  /** Restores the open file with this file id through the fd kind, as the orchestrator would. */
  async restoreFile(fileId: number): Promise<number> {
    const f = (await this.fileEntries()).find((e) => e.id === fileId);
    if (!f) throw new Error(`no file ${fileId}`);
    const { fd } = await bpfMapKind.restore(f.bpf as ImageMessage, fileId, this.ctx);
    this.fds.push(fd);
    return fd;
  }

  session(): Promise<MapRestoreSession> {
    return MapRestoreSession.of(this.ctx);
  }

  /** A failed restore: the orchestrator closes the fds it got and runs the rollback steps. */
  rollback(): void {
    for (const fd of this.fds.splice(0)) close(fd);
    for (const fn of this.undo.splice(0).reverse()) fn();
  }

  /** A successful restore: crtool lets go of everything (the restored process would hold the fds). */
  async finish(): Promise<void> {
    (await this.session()).release();
    for (const fd of this.fds.splice(0)) close(fd);
    this.undo.splice(0);
  }
}

/** What the holder's map looked like before the holder was killed. */
export interface Captured {
  info: MapInfo;
  /** /proc/PID/fdinfo/FD text of each of the holder's fds of the map. */
  fdinfo: string[];
  dump: BpftoolElement[] | null;
}

export function capture(holder: Holder, name: string): Captured {
  const m = holder.maps[name];
  const fd = mapGetFdById(m.id);
  try {
    return {
      info: mapGetInfo(fd),
      fdinfo: m.fds.map((f) => readFileSync(`/proc/${holder.pid}/fdinfo/${f}`, "utf8")),
      dump: bpftoolMapDump(m.id),
    };
  } finally {
    close(fd);
  }
}

/** bpf_map_info fields CRIU's tests compare (all but the id; BTF ids only when BTF is present). */
export function infoWithoutId(i: MapInfo): Record<string, unknown> {
  return {
    type: i.type,
    keySize: i.keySize,
    valueSize: i.valueSize,
    maxEntries: i.maxEntries,
    mapFlags: i.mapFlags,
    name: i.name,
    ifindex: i.ifindex,
    netnsDev: i.netnsDev,
    netnsIno: i.netnsIno,
    btf: i.btfId !== 0,
    btfKeyTypeId: i.btfKeyTypeId,
    btfValueTypeId: i.btfValueTypeId,
    btfVmlinuxValueTypeId: i.btfVmlinuxValueTypeId,
    mapExtra: i.mapExtra,
  };
}

/** fdinfo lines but map_id (and mnt_id/ino, properties of the anon inode mount, when asked). */
export function fdinfoWithoutId(text: string, opts: { flags?: boolean; memlock?: boolean } = {}): string[] {
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("map_id:"))
    .filter((l) => opts.flags !== false || !l.startsWith("flags:"))
    .filter((l) => opts.memlock !== false || !l.startsWith("memlock:"))
    .filter((l) => !l.startsWith("mnt_id:") && !l.startsWith("ino:"));
}

/** bpftool elements as sorted "key=value" strings (per-CPU: each CPU's value). */
export function elementSet(dump: BpftoolElement[]): string[] {
  return dump
    .map((t) => `${bytesHex(t.key ?? [])}=${t.values ? t.values.map((c) => `${c.cpu}:${bytesHex(c.value)}`).join("/") : bytesHex(t.value ?? [])}`)
    .sort();
}

/** Every map id above `above` (maps this test made and still holds). */
export function mapIdsAbove(above: number): number[] {
  return mapIds().filter((id) => id > above);
}

/**
 * mapIdsAbove once the kernel has caught up (at most `ms`): an outer map's
 * inner maps are released by the work queue that frees the outer map, after
 * its last fd is closed, so their ids can outlive that close a little on a
 * busy machine.
 */
export async function mapIdsAboveSettled(above: number, ms = 5000): Promise<number[]> {
  let left = mapIdsAbove(above);
  for (const until = Date.now() + ms; left.length > 0 && Date.now() < until; left = mapIdsAbove(above)) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return left;
}

export function maxMapId(): number {
  return Math.max(0, ...mapIds());
}

/** Rewrites an image of `dir` with `edit` applied to its entries (payloads kept unless edit changes them). */
export async function rewriteImage(
  dir: string,
  name: string,
  magic: MagicName,
  edit: (entries: { message: ImageMessage; payload?: Uint8Array }[]) => { message: ImageMessage; payload?: Uint8Array }[],
): Promise<void> {
  const path = join(dir, name);
  const { entries } = await decodeImage(readFileSync(path), name);
  const out = edit(entries.map((e) => ({ message: e.message, payload: e.payload as Uint8Array | undefined })));
  writeFileSync(path, encodeImage(magic, out));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** One map of a synthetic dump. */
export interface SyntheticMap {
  spec: MapSpec;
  /** file_entry id (default: its index + 1). */
  fileId?: number;
  /** f_flags of its open file (default O_RDWR). */
  flags?: number;
  /** Its open file's SIGIO owner and signal (default none). */
  fown?: FownEntry;
  /** All keys, then all values, as bpfmap-data.img lays them out; undefined: no data entry. */
  contents?: { keys: Uint8Array; values: Uint8Array; count: number };
  /** Extension fields to set on the file entry / data entry (merged over the spec's own). */
  fileExt?: CrtoolBpfmapFileExt;
  dataExt?: CrtoolBpfmapDataExt;
}

/** Writes files.img and bpfmap-data.img for `maps` into `dir` (a dump without processes). */
export function writeSyntheticDump(dir: string, maps: SyntheticMap[]): void {
  const files = maps.map((m, i) => {
    const id = m.fileId ?? i + 1;
    const bpf = fileEntryOf(m.spec, { id, flags: m.flags ?? 2, pos: 0n, fown: m.fown ?? { ...NO_FOWN } }, m.fileExt ?? {});
    return { message: { type: 19, id, bpf } as ImageMessage };
  });
  writeFileSync(join(dir, "files.img"), encodeImage("FILES", files));
  const data = maps
    .filter((m) => m.contents)
    .map((m) => {
      const c = m.contents!;
      const message: ImageMessage = { map_id: m.spec.mapId, keys_bytes: c.keys.byteLength, values_bytes: c.values.byteLength, count: c.count };
      if (m.dataExt) setExtFields("bpfmap_data_entry", message, m.dataExt);
      return { message, payload: Buffer.concat([c.keys, c.values]) };
    });
  writeFileSync(join(dir, "bpfmap-data.img"), encodeImage("BPFMAP_DATA", data));
}

/** Keys and values of u32 → `valueSize`-byte elements, value i filled with byte (i + 1). */
export function u32Elements(keys: number[], valueSize: number): { keys: Buffer; values: Buffer; count: number } {
  return {
    keys: Buffer.concat(keys.map((k) => u32buf(k))),
    values: Buffer.concat(keys.map((_, i) => Buffer.alloc(valueSize, i + 1))),
    count: keys.length,
  };
}

function u32buf(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

const tempDirs: string[] = [];
// Registered while the importing test file is collected: its directories go when it ends.
afterAll(() => {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A private directory, removed when the test file ends. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

/** Every BTF id on the system. */
export function btfIds(): number[] {
  const ids: number[] = [];
  for (let id = btfGetNextId(0); id !== null; id = btfGetNextId(id)) ids.push(id);
  return ids;
}

/**
 * For the tests of a describe block: a fresh dump directory each (removed
 * after it), and the check that the test left no BPF fd open.
 */
export function dumpDirPerTest(): { readonly dir: string } {
  const state = { dir: "" };
  let fdsBefore = 0;
  beforeEach(() => {
    state.dir = tempDir("crtool-bpf-restore-");
    fdsBefore = countBpfFds();
  });
  afterEach(() => {
    removeDir(state.dir);
    expect(countBpfFds()).toBe(fdsBefore);
  });
  return state;
}
