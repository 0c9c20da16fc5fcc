/**
 * INOTIFY (fsnotify.c dump_one_inotify): inotify_file_entry {id, flags,
 * fown, wd[]} with one inotify_wd_entry per watch from fdinfo — id 0, wd,
 * i_ino, mask, ignored_mask, s_dev and the file handle with its path
 * (fsnotify-handle.ts). Events already queued are not saved; CRIU drops
 * them too (with a warning), and so does crtool (with a log line).
 * Restore: inotify-restore.ts.
 */
import type { DumpContext } from "../contract/dump-context.js";
import { type InotifyFileEntry, type InotifyWdEntry, InotifyFileEntrySchema } from "../images/schema/types.js";
import { isAnonInode } from "./anon-inode.js";
import type { RestorableFdKind, TaskFd } from "../contract/fd-kind.js";
import { restoreInotify } from "./inotify-restore.js";
import { readFown } from "./fown.js";
import { pendingEventBytes, watchHandle } from "./fsnotify-handle.js";
import { fromMessage, toMessage } from "./message.js";
import { fileFlags } from "../kernel/index.js";

export const inotifyKind: RestorableFdKind = {
  type: "INOTIFY",
  field: "ify",
  detect: (fd: TaskFd) => isAnonInode(fd, "inotify"),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const lfd = ctx.grab(fd);
    const flags = fileFlags(fd.fdinfo.flags);
    const queued = pendingEventBytes(lfd);
    if (queued > 0) ctx.log(`pid ${fd.pid} fd ${fd.fd} (INOTIFY): ${queued} bytes of queued events are dropped`);
    const wd: InotifyWdEntry[] = (fd.fdinfo.inotify ?? []).map((w) => ({
      id: 0,
      i_ino: w.ino,
      mask: w.mask,
      ignored_mask: w.ignoredMask,
      s_dev: w.sdev,
      wd: w.wd,
      f_handle: watchHandle(fd, ctx, "INOTIFY", w.sdev, w.ino, w.fhandle),
    }));
    const entry: InotifyFileEntry = { id, flags, fown: readFown(lfd, flags), wd };
    return toMessage(entry);
  },
  restore(message, id, ctx) {
    return restoreInotify(fromMessage(InotifyFileEntrySchema, message), id, ctx);
  },
};
