/**
 * `crtool restore --pin DIR`: pins restored maps on a bpffs so that other
 * programs can open them by path. Every map goes to DIR/<its name> (or
 * DIR/map_<id at dump time> when it has no name), or with `recorded` to the
 * pin path the image recorded (`crtool dump --pinned`), when it has one.
 *
 * Nothing is ever replaced: every path is checked before the first pin is
 * made (on a bpffs, free, not claimed twice), a pin that appears meanwhile
 * fails the call, and the pins made so far are removed again. Each pin made
 * is registered for rollback, so a restore that fails later removes it too.
 */
import { recordedBtf } from "./recorded-btf.js";
import { faultPoint } from "../../debug/hooks.js";
import { chmodSync, existsSync, lstatSync, mkdirSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { SyscallError, objPin } from "../../kernel/index.js";
import type { Btf } from "../../images/btf/btf.js";
import { libbpfMapName, libbpfPinName } from "../../images/btf/libbpf-maps.js";
import { isOnBpffs } from "../bpffs.js";
import { describeMap } from "./describe.js";
import { MapPinError } from "./errors.js";
import type { RestoredMap } from "./session.js";

export interface PinOptions {
  /** Pin at the recorded pin path of maps that have one (the others go under `dir`, if given). */
  recorded: boolean;
  /** The raw BTF the dump holds for a BTF id (to find libbpf's full map names). */
  btfBlob?: (btfId: number) => Uint8Array | undefined;
  /** Registers an undo step (RestoreContext.onRollback); pins are not undone otherwise. */
  onRollback?: (undo: () => void) => void;
}

/** What pinning needs of a map: its record and its id at dump time (a restored map, or a record in a dry run). */
export type Pinnable = Pick<RestoredMap, "oldId" | "spec" | "recordedSpec">;

export interface MapPin<M extends Pinnable = RestoredMap> {
  map: M;
  path: string;
}

/**
 * `--pin-recorded` needs recorded pin paths (only `crtool dump --pinned`
 * records them): without any it would create the maps and drop them.
 */
export function requireRecordedPins(maps: readonly Pinnable[]): void {
  if (maps.some((m) => m.spec.pinPath !== undefined)) return;
  throw new MapPinError("--pin-recorded: no map of this dump has a recorded pin path (only `crtool dump --pinned` records them); use --pin BPFFS_DIR to pin them by name");
}

/**
 * Where each map would be pinned (maps with no place are left out), every
 * place checked (on a bpffs, free, claimed once), and the directories to
 * create: what pinRestoredMaps does before its first pin, and all a dry run does.
 */
export function planPins<M extends Pinnable>(dir: string | undefined, maps: readonly M[], opts: Pick<PinOptions, "recorded" | "btfBlob">): { pins: MapPin<M>[]; missingDirs: string[] } {
  if (opts.recorded) requireRecordedPins(maps);
  const pins = pinPaths(dir, maps, opts);
  return { pins, missingDirs: checkPlaces(pins) };
}

/** Where each map would be pinned (maps with no place are left out). */
export function pinPaths<M extends Pinnable>(dir: string | undefined, maps: readonly M[], opts: Pick<PinOptions, "recorded" | "btfBlob">): MapPin<M>[] {
  const out: MapPin<M>[] = [];
  const btfs = new Map<number, Btf | undefined>();
  for (const map of maps) {
    if (opts.recorded && map.spec.pinPath !== undefined) out.push({ map, path: map.spec.pinPath });
    else if (dir !== undefined) out.push({ map, path: join(dir, pinName(map, btfOf(map, btfs, opts.btfBlob))) });
  }
  return out;
}

/** The map's BTF as dumped, parsed once per BTF id; undefined (the map keeps its kernel name) when it has none or it does not parse. */
function btfOf(map: Pinnable, cache: Map<number, Btf | undefined>, blobOf: PinOptions["btfBlob"]): Btf | undefined {
  return recordedBtf((map.recordedSpec ?? map.spec).btf, cache, blobOf);
}

/**
 * A map's file name under DIR, as libbpf pins it by name: the name libbpf
 * knows it by (the kernel keeps 15 bytes of a name; the full one is in the
 * object's BTF) with every "." replaced by "_" (bpffs refuses dots; libbpf's
 * global-data maps are named "<object>.data"). A map with no name gets
 * map_<id at dump time>.
 */
export function pinName(map: Pinnable, btf?: Btf): string {
  // Named as dumped (restore --upgrade-to changes a map's definition, not the name libbpf knows it by).
  const s = map.recordedSpec ?? map.spec;
  const full = btf && s.btf ? libbpfMapName(btf, { name: s.name, mapType: s.mapType, maxEntries: s.maxEntries, keyTypeId: s.btf.keyTypeId, valueTypeId: s.btf.valueTypeId }) : undefined;
  const name = full ?? s.name;
  return name ? libbpfPinName(name) : `map_${map.oldId}`;
}

/**
 * Pins `maps` (see the module comment); returns the pins made. Throws
 * MapPinError, having made no pin, when a place is not on a bpffs, is taken,
 * or is claimed by two maps.
 */
export function pinRestoredMaps(dir: string | undefined, maps: readonly RestoredMap[], opts: PinOptions): MapPin[] {
  const { pins, missingDirs: missing } = planPins(dir, maps, opts);
  const made: MapPin[] = [];
  const createdDirs: string[] = [];
  try {
    // Recorded pin paths may be in directories that are gone: made again, on the same bpffs.
    for (const d of missing) {
      // 0700 as bpftool makes them: pins give access to the maps.
      mkdirSync(d, { mode: 0o700 });
      chmodSync(d, 0o700);
      createdDirs.push(d);
      opts.onRollback?.(() => rmdirQuietly(d));
    }
    for (const p of pins) {
      try {
        faultPoint("pin");
        objPin(p.map.fd, p.path);
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        const why = e.code === "EEXIST" ? "it appeared meanwhile; crtool never replaces a pin" : e.brief;
        throw new MapPinError(`cannot pin ${describeMap(p.map.spec)} (now map ${p.map.newId}) at ${p.path}: ${why}`);
      }
      made.push(p);
      opts.onRollback?.(() => unpin(p.path));
    }
  } catch (e) {
    for (const p of made.reverse()) unpin(p.path);
    for (const d of createdDirs.reverse()) rmdirQuietly(d);
    throw e;
  }
  return made;
}

function rmdirQuietly(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* not empty (something else was pinned there) or already gone */
  }
}

/** The directories from the nearest existing ancestor of `dir` down to it, outermost first. */
function missingDirs(dir: string): { existing: string; missing: string[] } {
  const missing: string[] = [];
  let d = dir;
  while (!existsSync(d)) {
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return { existing: d, missing };
}

/** Checks every place before any pin is made; returns the directories to create, outermost first. */
function checkPlaces<M extends Pinnable>(pins: readonly MapPin<M>[]): string[] {
  const claimed = new Map<string, MapPin<M>>();
  const checkedDirs = new Set<string>();
  const toCreate: string[] = [];
  for (const p of pins) {
    const parent = dirname(p.path);
    if (!checkedDirs.has(parent)) {
      const { existing, missing } = missingDirs(parent);
      if (!isOnBpffs(existing)) throw new MapPinError(`cannot pin maps in ${parent}: it is not on a BPF filesystem (bpffs), usually mounted at /sys/fs/bpf`);
      for (const d of missing) if (!toCreate.includes(d)) toCreate.push(d);
      checkedDirs.add(parent);
    }
    if (exists(p.path)) throw new MapPinError(`cannot pin ${describeMap(p.map.spec)} at ${p.path}: the path exists; crtool never replaces a pin`);
    const other = claimed.get(p.path);
    if (other) {
      throw new MapPinError(`${describeMap(other.map.spec)} and ${describeMap(p.map.spec)} would both be pinned at ${p.path}; give them different names`);
    }
    claimed.set(p.path, p);
  }
  return toCreate;
}

/** lstat, so that a dangling symlink counts as taken too. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function unpin(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: someone removed it, which is what undoing wants.
  }
}
