/** SIGNALFD (signalfd.c): signalfd_entry {id, flags, fown, sigmask}, the mask from fdinfo. */
import type { DumpContext } from "../checkpoint/dump-context.js";
import type { SignalfdEntry } from "../images/schema/types.js";
import { isAnonInode } from "./anon-inode.js";
import type { FdKind, TaskFd } from "./fd-kind.js";
import { readFown } from "./fown.js";
import { toMessage } from "./message.js";
import { fileFlags } from "./open-flags.js";
import { unsupported } from "./unsupported.js";

export const signalfdKind: FdKind = {
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
};
