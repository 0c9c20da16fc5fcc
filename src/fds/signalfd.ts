/**
 * SIGNALFD (signalfd.c): signalfd_entry {id, flags, fown, sigmask}, the mask
 * from fdinfo. Restore: a new signalfd for the mask (the kernel drops
 * SIGKILL and SIGSTOP, as it did when the task made it), then the recorded
 * flags (O_NONBLOCK) and owner. Which signals are blocked is the task's
 * state, not the file's: the process that takes the fd over blocks them
 * itself.
 */
import type { DumpContext } from "../contract/dump-context.js";
import { type SignalfdEntry, SignalfdEntrySchema } from "../images/schema/types.js";
import { O_CLOEXEC } from "../kernel/index.js";
import { isAnonInode } from "./anon-inode.js";
import type { RestorableFdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown, restoreFown } from "./fown.js";
import { fromMessage, toMessage } from "./message.js";
import { fileFlags } from "../kernel/index.js";
import { finishFd, setStatusFlags } from "./restore-fd.js";
import { signalfd4 } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

export const signalfdKind: RestorableFdKind = {
  type: "SIGNALFD",
  field: "sgfd",
  detect: (fd: TaskFd) => isAnonInode(fd, "signalfd"),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const info = fd.fdinfo.signalfd;
    if (!info) throw unsupported(fd, "SIGNALFD", "its fdinfo has no sigmask");
    const flags = fileFlags(fd.fdinfo.flags);
    const entry: SignalfdEntry = { id, flags, fown: readFown(ctx.grab(fd), flags), sigmask: info.sigmask };
    return toMessage(entry);
  },
  restore(message, id, ctx) {
    const e = fromMessage(SignalfdEntrySchema, message);
    // SFD_CLOEXEC is O_CLOEXEC.
    const fd = signalfd4(e.sigmask, O_CLOEXEC);
    return finishFd(fd, () => {
      setStatusFlags(fd, e.flags);
      restoreFown(fd, e.fown, e.flags, ctx, id, "SIGNALFD");
    });
  },
};
