/**
 * EVENTFD (eventfd.c): eventfd_file_entry {id, flags, fown, counter}, the
 * counter from fdinfo's eventfd-count. CRIU has no field for EFD_SEMAPHORE
 * (the kernel shows it as eventfd-semaphore since Linux 6.4), so a
 * semaphore-mode eventfd cannot be saved faithfully.
 *
 * Restore (eventfd.c eventfd_open): a new eventfd holding the counter, then
 * the recorded flags (O_NONBLOCK) and owner. The counter is written rather
 * than passed to eventfd(2), whose initial value is only 32 bits.
 */
import type { DumpContext } from "../contract/dump-context.js";
import { type EventfdFileEntry, EventfdFileEntrySchema } from "../images/schema/types.js";
import { O_CLOEXEC, stableBuffer, write } from "../kernel/index.js";
import { isAnonInode } from "./anon-inode.js";
import type { RestorableFdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown, restoreFown } from "./fown.js";
import { fromMessage, toMessage } from "./message.js";
import { O_NONBLOCK, fileFlags } from "../kernel/index.js";
import { cannotRestore } from "./restore-errors.js";
import { finishFd, setStatusFlags } from "./restore-fd.js";
import { eventfd2 } from "../kernel/index.js";
import { loseOrThrow, unsupported } from "./unsupported.js";

/** An eventfd counter stops one short of 2^64 (write(2) refuses 2^64 - 1). */
const MAX_COUNTER = 0xfffffffffffffffen;

export const eventfdKind: RestorableFdKind = {
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
  restore(message, id, ctx) {
    const e = fromMessage(EventfdFileEntrySchema, message);
    if (e.counter > MAX_COUNTER) throw cannotRestore(id, "EVENTFD", `counter ${e.counter} is above an eventfd's maximum`);
    // EFD_CLOEXEC and EFD_NONBLOCK are O_CLOEXEC and O_NONBLOCK.
    const fd = eventfd2(0, O_CLOEXEC | O_NONBLOCK);
    return finishFd(fd, () => {
      if (e.counter > 0n) {
        const value = stableBuffer(8);
        value.writeBigUInt64LE(e.counter);
        write(fd, value);
      }
      setStatusFlags(fd, e.flags);
      restoreFown(fd, e.fown, e.flags, ctx, id, "EVENTFD");
    });
  },
};
