/**
 * PIDFD (pidfd.c): pidfd_entry {id, ino, flags, nspid, fown}. ino is the
 * fdinfo inode number (CRIU reads it with %u: its low 32 bits), nspid the
 * process's pid in its innermost pid namespace (the last NSpid value; -1
 * once it has exited). flags drop O_RDWR, which every pidfd has.
 *
 * CRIU also checks that the process is in the dumped tree (else the pid
 * may not exist on restore); only the orchestrator knows the tree.
 */
import type { DumpContext } from "../contract/dump-context.js";
import type { PidfdEntry } from "../images/schema/types.js";
import { isAnonInode } from "./anon-inode.js";
import type { FdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown } from "./fown.js";
import { toMessage } from "./message.js";
import { O_EXCL, O_RDWR, fileFlags } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

/** pidfd_open's PIDFD_THREAD is O_EXCL. */
const PIDFD_THREAD = O_EXCL;

/** The pid a pidfd refers to, as fdinfo "Pid:" shows it in crtool's namespace (-1 when it has exited). */
export function pidfdPid(fd: TaskFd): number | undefined {
  const v = fd.fdinfo.fields.get("Pid");
  return v === undefined ? undefined : Number(v);
}

export const pidfdKind: FdKind = {
  type: "PIDFD",
  field: "pidfd",
  detect: (fd: TaskFd) => isAnonInode(fd, "pidfd"),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const flags = fileFlags(fd.fdinfo.flags);
    if (flags & PIDFD_THREAD) throw unsupported(fd, "PIDFD", "thread pidfds (PIDFD_THREAD) are not supported");
    const pid = pidfdPid(fd);
    if (pid === undefined) throw unsupported(fd, "PIDFD", "its fdinfo has no Pid: line");
    const nspids = (fd.fdinfo.fields.get("NSpid") ?? String(pid)).split(/\s+/).filter((s) => s !== "");
    const entry: PidfdEntry = {
      id,
      ino: Number((fd.fdinfo.ino ?? fd.stat.ino) & 0xffffffffn),
      flags: (flags & ~O_RDWR) >>> 0,
      nspid: Number(nspids[nspids.length - 1]),
      fown: readFown(ctx.grab(fd), flags),
    };
    return toMessage(entry);
  },
};
