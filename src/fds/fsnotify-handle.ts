/**
 * What inotify watches and fanotify inode marks are on, as CRIU's
 * fsnotify.c records it: the kernel's file handle (fh_entry: bytes, type,
 * the handle as 16 native u64 words, zero-padded) and, when it can be
 * found, a path — found by opening the handle (open_by_handle_at) on each
 * mount of the same superblock and reading the path of what opened, kept
 * only if that path leads back to the same inode.
 */
import { closeSync, openSync, readlinkSync, statSync } from "node:fs";
import type { DumpContext } from "../contract/dump-context.js";
import type { FhEntry } from "../images/schema/types.js";
import { stableBuffer, type FileHandle } from "../kernel/index.js";
import type { TaskFd } from "../contract/fd-kind.js";
import { pathField } from "./link-path.js";
import { mountsOf } from "./mountinfo.js";
import { O_DIRECTORY, O_PATH, O_RDONLY } from "../kernel/index.js";
import { ioctlRaw, openByHandleAt } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

/** fh_entry_sizes.min_entries: CRIU always writes 16 words. */
export const FH_WORDS = 16;

export function handleWords(handle: Uint8Array): bigint[] {
  const b = Buffer.alloc(FH_WORDS * 8);
  b.set(handle.subarray(0, b.length));
  const words: bigint[] = [];
  for (let i = 0; i < FH_WORDS; i++) words.push(b.readBigUInt64LE(i * 8));
  return words;
}

/**
 * fh_entry for a watched inode, with its path when one leads to it.
 * Refuses, as CRIU does, a tmpfs inode without a path (tmpfs inode numbers
 * do not survive a remount) and an inode on no mount the task can see
 * (CRIU then scans the file system for it, "irmap"; crtool does not).
 */
export function watchHandle(fd: TaskFd, ctx: DumpContext, kind: string, sdev: number, ino: bigint, fh: FileHandle | undefined): FhEntry {
  if (!fh) throw unsupported(fd, kind, "the kernel shows no file handle for a watch (needs CONFIG_EXPORTFS/fhandle support)");
  const entry: FhEntry = { bytes: fh.bytes, type: fh.type, handle: handleWords(fh.handle) };
  const mounts = mountsOf(ctx, fd.pid).filter((m) => m.sdev === sdev);
  let suitable = false;
  for (const m of mounts) {
    const mountPoint = `/proc/${fd.pid}/root${m.mountPoint}`;
    let mfd: number;
    try {
      if (!statSync(mountPoint).isDirectory()) continue;
      mfd = openSync(mountPoint, O_RDONLY | O_DIRECTORY);
    } catch {
      continue;
    }
    let hfd: number;
    try {
      hfd = openByHandleAt(mfd, fh.type, fh.handle, O_PATH);
    } catch {
      continue;
    } finally {
      closeSync(mfd);
    }
    suitable = true;
    let path: Buffer;
    try {
      path = readlinkSync(`/proc/self/fd/${hfd}`, "buffer");
    } finally {
      closeSync(hfd);
    }
    try {
      if (statSync(path, { bigint: true }).ino === ino) {
        entry.path = pathField(path);
        return entry;
      }
    } catch {
      // Not reachable by that name (unlinked, or under another root): try the next mount.
    }
  }
  if (!suitable) {
    throw unsupported(fd, kind, `watched inode ${ino} is on no mount the process can see (CRIU would search the file system for it; crtool does not)`);
  }
  const fsType = mounts[0]?.fsType;
  if (fsType === "tmpfs" || fsType === "devtmpfs") {
    throw unsupported(fd, kind, `watched inode ${ino} on ${fsType} has no path, and ${fsType} inodes cannot be found again after a restart`);
  }
  return entry;
}

const FIONREAD = 0x541b;

/** Bytes of events queued on an inotify/fanotify fd (they are not saved: CRIU drops them too). */
export function pendingEventBytes(lfd: number): number {
  const n = stableBuffer(4);
  return ioctlRaw(lfd, FIONREAD, n) < 0 ? 0 : n.readInt32LE(0);
}
