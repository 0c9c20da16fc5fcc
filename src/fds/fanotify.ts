/**
 * FANOTIFY (fsnotify.c dump_one_fanotify): fanotify_file_entry {id, flags,
 * fown, faflags and evflags (fanotify_init's flags and event_f_flags, from
 * fdinfo), mark[]}. Inode marks carry the inode and its file handle (with a
 * path, fsnotify-handle.ts); mount marks the mount id, the mount's device and
 * its mount point. CRIU's format has no filesystem (FAN_MARK_FILESYSTEM) or
 * mount-namespace marks — CRIU silently skips them; crtool refuses them.
 * Queued events are dropped, as by CRIU.
 */
import type { DumpContext } from "../contract/dump-context.js";
import type { FanotifyFileEntry, FanotifyMarkEntry } from "../images/schema/types.js";
import type { FanotifyMark } from "../kernel/index.js";
import { isAnonInode } from "./anon-inode.js";
import type { FdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown } from "./fown.js";
import { pendingEventBytes, watchHandle } from "./fsnotify-handle.js";
import { toMessage } from "./message.js";
import { mountsOf } from "./mountinfo.js";
import { fileFlags } from "../kernel/index.js";
import { loseOrThrow, unsupported } from "./unsupported.js";

const MARK_INODE = 1;
const MARK_MOUNT = 2;

function markEntry(fd: TaskFd, ctx: DumpContext, m: FanotifyMark): FanotifyMarkEntry | undefined {
  const common = { id: 0, mflags: m.mflags, mask: m.mask, ignored_mask: m.ignoredMask };
  if (m.target === "inode" && m.ino !== undefined && m.sdev !== undefined) {
    return { ...common, type: MARK_INODE, s_dev: m.sdev, ie: { i_ino: m.ino, f_handle: watchHandle(fd, ctx, "FANOTIFY", m.sdev, m.ino, m.fhandle) } };
  }
  if (m.target === "mount" && m.mntId !== undefined) {
    const mount = mountsOf(ctx, fd.pid).find((x) => x.mountId === m.mntId);
    if (!mount) throw unsupported(fd, "FANOTIFY", `marked mount ${m.mntId} is not among the process's mounts`);
    return { ...common, type: MARK_MOUNT, s_dev: mount.sdev, me: { mnt_id: m.mntId, path: mount.mountPoint } };
  }
  loseOrThrow(ctx, fd, "FANOTIFY", `a ${m.target} mark (FAN_MARK_FILESYSTEM/mount namespace) has no place in CRIU's image format`);
  return undefined;
}

export const fanotifyKind: FdKind = {
  type: "FANOTIFY",
  field: "ffy",
  detect: (fd: TaskFd) => isAnonInode(fd, "fanotify"),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const lfd = ctx.grab(fd);
    const flags = fileFlags(fd.fdinfo.flags);
    const group = fd.fdinfo.fanotify?.group;
    if (!group) throw unsupported(fd, "FANOTIFY", "its fdinfo has no \"fanotify flags\" line");
    const queued = pendingEventBytes(lfd);
    if (queued > 0) ctx.log(`pid ${fd.pid} fd ${fd.fd} (FANOTIFY): ${queued} bytes of queued events are dropped`);
    const mark = (fd.fdinfo.fanotify?.marks ?? []).map((m) => markEntry(fd, ctx, m)).filter((m) => m !== undefined);
    const entry: FanotifyFileEntry = { id, flags, fown: readFown(lfd, flags), faflags: group.flags, evflags: group.eventFlags, mark };
    return toMessage(entry);
  },
};
