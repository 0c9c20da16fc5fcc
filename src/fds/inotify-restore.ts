/**
 * Restoring an INOTIFY entry as CRIU's fsnotify.c open_inotify_fd does: a
 * new inotify with the recorded flags, and each watch added back on the
 * inode it was on — found by the recorded path, or, without one, by the
 * file handle on a mount of the recorded superblock — through
 * /proc/self/fd/N of an O_PATH open of it, with the recorded mask.
 *
 * Watch descriptors keep their numbers: INOTIFY_IOC_SETNEXTWD (kernels with
 * CONFIG_CHECKPOINT_RESTORE) makes the next watch get the recorded one.
 * Without it, as CRIU, watches are added and removed until the number comes
 * up (each removal queues an IN_IGNORED event the task never saw); a number
 * that cannot be reached that way is a NotSupportedError, or with
 * --skip-unsupported a logged watch under another number.
 *
 * Events queued at dump time were not saved (CRIU drops them too). The
 * mask keeps IN_ONESHOT and IN_EXCL_UNLINK, which CRIU filters out.
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import type { RestoreContext } from "../contract/restore-context.js";
import type { InotifyFileEntry, InotifyWdEntry } from "../images/schema/types.js";
import { O_CLOEXEC } from "../kernel/index.js";
import { FH_WORDS } from "./fsnotify-handle.js";
import { restoreFown } from "./fown.js";
import { pathBytes } from "./link-path.js";
import { readMountinfo } from "./mountinfo.js";
import { O_DIRECTORY, O_PATH, O_RDONLY } from "../kernel/index.js";
import { cannotRestore, loseOrThrowOnRestore } from "./restore-errors.js";
import { finishFd, fsCall, setStatusFlags } from "./restore-fd.js";
import { inotifyAddWatch, inotifyInit1, inotifyRmWatch, ioctlValueRaw, openByHandleAt } from "../kernel/index.js";

/** _IOW('I', 0, __s32) */
const INOTIFY_IOC_SETNEXTWD = 0x40044900;
const IN_ALL_EVENTS = 0xfff;
const IN_EXCL_UNLINK = 0x04000000;
const IN_ONESHOT = 0x80000000;
const WATCH_MASK = IN_ALL_EVENTS | IN_EXCL_UNLINK | IN_ONESHOT;

export async function restoreInotify(e: InotifyFileEntry, id: number, ctx: RestoreContext): Promise<{ fd: number }> {
  // IN_CLOEXEC is O_CLOEXEC; IN_NONBLOCK comes with the recorded flags.
  const fd = inotifyInit1(O_CLOEXEC);
  return finishFd(fd, () => {
    setStatusFlags(fd, e.flags);
    // In wd order: without SETNEXTWD, numbers can only be reached counting up.
    for (const w of [...(e.wd ?? [])].sort((a, b) => a.wd - b.wd)) addWatch(fd, w, id, ctx);
    restoreFown(fd, e.fown, e.flags, ctx, id, "INOTIFY");
  });
}

function addWatch(ifd: number, w: InotifyWdEntry, id: number, ctx: RestoreContext): void {
  const target = openWatched(w, id);
  try {
    const ino = fstatSync(target, { bigint: true }).ino;
    if (ino !== w.i_ino) ctx.log(`file ${id} (INOTIFY): watch ${w.wd} is now on inode ${ino} (${w.i_ino} when dumped): its path names another file`);
    const path = `/proc/self/fd/${target}`;
    const mask = (w.mask & WATCH_MASK) >>> 0;
    if (ioctlValueRaw(ifd, INOTIFY_IOC_SETNEXTWD, w.wd) === 0) {
      const wd = inotifyAddWatch(ifd, path, mask);
      // Only a second watch on an inode already watched (which inotify merges) could get another number.
      if (wd !== w.wd) throw cannotRestore(id, "INOTIFY", `watch ${w.wd} came back as ${wd} (two watches on one inode?)`);
      return;
    }
    for (;;) {
      const wd = inotifyAddWatch(ifd, path, mask);
      if (wd === w.wd) return;
      if (wd > w.wd) {
        loseOrThrowOnRestore(ctx, id, "INOTIFY", `watch ${w.wd} can only be added as ${wd} (no INOTIFY_IOC_SETNEXTWD in this kernel); the task would use the wrong number`);
        return;
      }
      inotifyRmWatch(ifd, wd);
    }
  } finally {
    closeSync(target);
  }
}

/** An O_PATH fd of the watched inode: by its path, else by its file handle. */
function openWatched(w: InotifyWdEntry, id: number): number {
  const fh = w.f_handle;
  if (fh.path !== undefined) {
    const path = Buffer.from(pathBytes(fh.path));
    return fsCall(`file ${id} (INOTIFY): watch ${w.wd} on ${path.toString()}`, () => openSync(path, O_PATH));
  }
  const handle = handleBytes(fh.handle ?? [], fh.bytes);
  for (const m of readMountinfo("self").filter((x) => x.sdev === w.s_dev)) {
    let mountFd: number;
    try {
      mountFd = openSync(m.mountPoint, O_RDONLY | O_DIRECTORY);
    } catch {
      continue;
    }
    try {
      return openByHandleAt(mountFd, fh.type, handle, O_PATH);
    } catch {
      // Not reachable from this mount (a bind mount of another subtree): try the next.
    } finally {
      closeSync(mountFd);
    }
  }
  throw cannotRestore(id, "INOTIFY", `watch ${w.wd} (inode ${w.i_ino}) has no path, and no mount of its file system opens its file handle`);
}

/** The handle's first `bytes` bytes from its 16 native u64 words. */
function handleBytes(words: bigint[], bytes: number): Uint8Array {
  const b = Buffer.alloc(FH_WORDS * 8);
  words.slice(0, FH_WORDS).forEach((w, i) => b.writeBigUInt64LE(BigInt.asUintN(64, w), i * 8));
  return b.subarray(0, Math.min(bytes, b.length));
}
