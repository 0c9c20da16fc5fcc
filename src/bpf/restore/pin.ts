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
import { faultPoint } from "../../debug/hooks.js";
import { existsSync, lstatSync, mkdirSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { SyscallError, objPin } from "../../kernel/index.js";
import { isOnBpffs } from "../bpffs.js";
import { describeMap } from "./describe.js";
import { MapPinError } from "./errors.js";
import type { RestoredMap } from "./session.js";

export interface PinOptions {
  /** Pin at the recorded pin path of maps that have one (the others go under `dir`, if given). */
  recorded: boolean;
  /** Registers an undo step (RestoreContext.onRollback); pins are not undone otherwise. */
  onRollback?: (undo: () => void) => void;
}

export interface MapPin {
  map: RestoredMap;
  path: string;
}

/** Where each map would be pinned (maps with no place are left out). */
export function pinPaths(dir: string | undefined, maps: readonly RestoredMap[], opts: Pick<PinOptions, "recorded">): MapPin[] {
  const out: MapPin[] = [];
  for (const map of maps) {
    if (opts.recorded && map.spec.pinPath !== undefined) out.push({ map, path: map.spec.pinPath });
    else if (dir !== undefined) out.push({ map, path: join(dir, pinName(map)) });
  }
  return out;
}

/** A map's file name under DIR: its name, or map_<id at dump time> (also for the names "." and "..", which map names may be). */
export function pinName(map: RestoredMap): string {
  const name = map.spec.name;
  return name && name !== "." && name !== ".." ? name : `map_${map.oldId}`;
}

/**
 * Pins `maps` (see the module comment); returns the pins made. Throws
 * MapPinError, having made no pin, when a place is not on a bpffs, is taken,
 * or is claimed by two maps.
 */
export function pinRestoredMaps(dir: string | undefined, maps: readonly RestoredMap[], opts: PinOptions): MapPin[] {
  const pins = pinPaths(dir, maps, opts);
  const missing = checkPlaces(pins);
  const made: MapPin[] = [];
  const createdDirs: string[] = [];
  try {
    // Recorded pin paths may be in directories that are gone: made again, on the same bpffs.
    for (const d of missing) {
      mkdirSync(d);
      createdDirs.push(d);
      opts.onRollback?.(() => rmdirQuietly(d));
    }
    for (const p of pins) {
      try {
        faultPoint("pin");
        objPin(p.map.fd, p.path);
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        const why = e.code === "EEXIST" ? "it appeared meanwhile; crtool never replaces a pin" : e.message;
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
function checkPlaces(pins: readonly MapPin[]): string[] {
  const claimed = new Map<string, MapPin>();
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
