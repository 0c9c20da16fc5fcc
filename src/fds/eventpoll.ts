/**
 * EVENTPOLL (eventpoll.c): eventpoll_file_entry {id, flags, fown, tfd[]},
 * the watched targets inside the entry as CRIU 4.x writes them, in fdinfo
 * order: {id 0, tfd, events, data, dev, inode, pos} straight from the
 * "tfd:" lines.
 *
 * A "tfd:" line names the fd number the target had when it was added. CRIU
 * checks with kcmp(KCMP_EPOLL_TFD) that this fd of the task is still that
 * file; if not (closed, or the number reused), it looks for another fd of
 * the same task that is, and writes that number. crtool does the same; a
 * target no fd of the task holds any more cannot be restored and is refused.
 * Restore: eventpoll-restore.ts.
 */
import type { DumpContext } from "../contract/dump-context.js";
import { type EventpollFileEntry, type EventpollTfdEntry, EventpollFileEntrySchema } from "../images/schema/types.js";
import { KCMP, addressOf, isErrno, kcmp, listOpenFds, stableBuffer, type EpollTarget } from "../kernel/index.js";
import { isAnonInode } from "./anon-inode.js";
import type { RestorableFdKind, TaskFd } from "../contract/fd-kind.js";
import { restoreEventpoll } from "./eventpoll-restore.js";
import { readFown } from "./fown.js";
import { fromMessage, toMessage } from "./message.js";
import { fileFlags } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

/** True when fd `tfd` of `pid` is the file registered in epoll `efd` as target (tfd, toff). */
function isTarget(pid: number, fdNo: number, efd: number, tfd: number, toff: number): boolean {
  // struct kcmp_epoll_slot { __u32 efd; __u32 tfd; __u32 toff; }
  const slot = stableBuffer(12);
  slot.writeUInt32LE(efd, 0);
  slot.writeUInt32LE(tfd, 4);
  slot.writeUInt32LE(toff, 8);
  try {
    return kcmp(pid, pid, KCMP.EPOLL_TFD, fdNo, addressOf(slot)) === 0;
  } catch (e) {
    // EBADF: no such fd in the task; ENOENT: no such target in the epoll.
    if (isErrno(e, "EBADF") || isErrno(e, "ENOENT")) return false;
    throw e;
  }
}

/**
 * toff per target: the same fd number can be registered several times (the
 * fd was closed and the number reused for another file); the kernel tells
 * them apart by their order among equal numbers.
 */
function targetOffsets(targets: EpollTarget[]): number[] {
  const seen = new Map<number, number>();
  return targets.map((t) => {
    const n = seen.get(t.tfd) ?? 0;
    seen.set(t.tfd, n + 1);
    return n;
  });
}

export const eventpollKind: RestorableFdKind = {
  type: "EVENTPOLL",
  field: "epfd",
  detect: (fd: TaskFd) => isAnonInode(fd, "eventpoll"),
  // After the files it watches (it restores a target itself if one is not yet there).
  restoreOrder: 1,
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const flags = fileFlags(fd.fdinfo.flags);
    const targets = fd.fdinfo.epoll ?? [];
    const offsets = targetOffsets(targets);
    let taskFds: number[] | undefined;
    const tfd: EventpollTfdEntry[] = targets.map((t, i) => {
      let fdNo = t.tfd;
      if (!isTarget(fd.pid, fdNo, fd.fd, t.tfd, offsets[i])) {
        taskFds ??= listOpenFds(fd.pid);
        const found = taskFds.find((n) => isTarget(fd.pid, n, fd.fd, t.tfd, offsets[i]));
        if (found === undefined) {
          throw unsupported(fd, "EVENTPOLL", `watched file ${t.tfd} (inode ${t.ino}) is no longer open in the process, so it cannot be re-added on restore`);
        }
        fdNo = found;
      }
      return { id: 0, tfd: fdNo, events: t.events, data: t.data, dev: t.sdev, inode: t.ino, pos: t.pos };
    });
    const entry: EventpollFileEntry = { id, flags, fown: readFown(ctx.grab(fd), flags), tfd };
    return toMessage(entry);
  },
  restore(message, id, ctx) {
    return restoreEventpoll(fromMessage(EventpollFileEntrySchema, message), id, ctx);
  },
};
