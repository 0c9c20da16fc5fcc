/**
 * Objects pinned on a bpffs (`crtool dump --pinned DIR`): every pinned object
 * under a directory, recursively, opened with BPF_OBJ_GET: maps, and
 * programs and links (recorded for inspection).
 */
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { close, isErrno, objGet } from "../kernel/index.js";
import { IoError } from "../images/errors.js";
import { isOnBpffs } from "./bpffs.js";

export interface PinnedMap {
  /** The pin's path (DIR joined with its path below DIR). */
  path: string;
  /** A new read-write fd of the map; the caller closes it. */
  fd: number;
}

/** A pinned object: what kind, by its /proc link. */
export interface PinnedObject extends PinnedMap {
  kind: "map" | "prog" | "link";
}

// The kernel names link files "bpf_link" when made and "bpf-link" when opened from a pin.
const KINDS: Record<string, PinnedObject["kind"]> = {
  "anon_inode:bpf-map": "map",
  "anon_inode:bpf-prog": "prog",
  "anon_inode:bpf-link": "link",
  "anon_inode:bpf_link": "link",
};

/** Every map, program and link pinned under `dir` (recursively), in path order. Close the fds (closePinned) when done. */
export function findPinnedObjects(dir: string): PinnedObject[] {
  if (!isOnBpffs(dir)) throw new IoError(`${dir} is not on a BPF filesystem (bpffs); pinned maps live on one, usually /sys/fs/bpf`);
  const found: PinnedObject[] = [];
  try {
    walk(dir, found);
  } catch (e) {
    closePinned(found);
    throw e;
  }
  return found;
}

/** Every map pinned under `dir` (recursively), in path order. Close the fds (closePinned) when done. */
export function findPinnedMaps(dir: string): PinnedMap[] {
  const all = findPinnedObjects(dir);
  closePinned(all.filter((o) => o.kind !== "map"));
  return all.filter((o) => o.kind === "map").map(({ path, fd }) => ({ path, fd }));
}

export function closePinned(maps: readonly PinnedMap[]): void {
  for (const m of maps) close(m.fd);
}

function walk(dir: string, out: PinnedObject[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new IoError(`${dir}: ${(e as Error).message}`);
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, e.name);
    if (e.isDirectory()) walk(path, out);
    // Pinned objects are regular files of the bpffs. Symlinks are not followed:
    // they lead to a pin found under its own path, or out of DIR.
    else if (e.isFile()) {
      const fd = open(path);
      if (fd === undefined) continue;
      const kind = KINDS[readlinkSync(`/proc/self/fd/${fd}`)];
      if (kind) out.push({ path, fd, kind });
      else close(fd);
    }
  }
}

/**
 * BPF_OBJ_GET of one file, or undefined for ENOENT: a pin removed meanwhile,
 * or an entry the kernel made itself that cannot be opened this way (a
 * fresh bpffs holds maps.debug and progs.debug when bpf_preload is loaded).
 */
function open(path: string): number | undefined {
  try {
    return objGet(path);
  } catch (e) {
    if (isErrno(e, "ENOENT")) return undefined;
    throw e;
  }
}
