/**
 * EVENTFD (eventfd.c): eventfd_file_entry {id, flags, fown, counter}, the
 * counter from fdinfo's eventfd-count. CRIU has no field for EFD_SEMAPHORE
 * (the kernel shows it as eventfd-semaphore since Linux 6.4), so a
 * semaphore-mode eventfd cannot be saved faithfully.
 */
import type { DumpContext } from "../checkpoint/dump-context.js";
import type { EventfdFileEntry } from "../images/schema/types.js";
import { isAnonInode } from "./anon-inode.js";
import type { FdKind, TaskFd } from "./fd-kind.js";
import { readFown } from "./fown.js";
import { toMessage } from "./message.js";
import { fileFlags } from "./open-flags.js";
import { loseOrThrow, unsupported } from "./unsupported.js";

export const eventfdKind: FdKind = {
  type: "EVENTFD",
  field: "efd",
  detect: (fd: TaskFd) => isAnonInode(fd, "eventfd"),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const info = fd.fdinfo.eventfd;
    if (!info) throw unsupported(fd, "EVENTFD", "its fdinfo has no eventfd-count");
    if (info.semaphore) {
      loseOrThrow(ctx, fd, "EVENTFD", "semaphore mode (EFD_SEMAPHORE) has no place in CRIU's eventfd_file_entry; it would restore as a plain counter");
    }
    const flags = fileFlags(fd.fdinfo.flags);
    const entry: EventfdFileEntry = { id, flags, fown: readFown(ctx.grab(fd), flags), counter: info.count };
    return toMessage(entry);
  },
};
