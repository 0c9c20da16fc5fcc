/**
 * NS: an open /proc/PID/ns/<type> file (namespaces.c dump_one_ns_file):
 * ns_file_entry {id, ns_id (the dump's id for that namespace, ns-ids.ts),
 * ns_cflag (its CLONE_NEW* flag), flags}. The link reads "net:[4026531840]",
 * the number being the namespace's inode ("kid" in CRIU).
 *
 * CRIU refuses a namespace no dumped task lives in (it could not reopen it on
 * restore); the tree is the orchestrator's to know, so it must check that
 * every ns_id given out here was registered for a task.
 */
import type { DumpContext } from "../contract/dump-context.js";
import type { NsFileEntry } from "../images/schema/types.js";
import type { FdKind, TaskFd } from "../contract/fd-kind.js";
import { toMessage } from "./message.js";
import { NS_CFLAGS, namespaceIds } from "./ns-ids.js";
import { fileFlags } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

export const nsFileKind: FdKind = {
  type: "NS",
  field: "nsf",
  detect(fd: TaskFd): boolean {
    return fd.link.kind === "pseudo" && Object.prototype.hasOwnProperty.call(NS_CFLAGS, fd.link.type);
  },
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    if (fd.link.kind !== "pseudo") throw unsupported(fd, "NS", "not a namespace file");
    const entry: NsFileEntry = {
      id,
      ns_id: namespaceIds(ctx).idFor(fd.link.type, fd.link.ino),
      ns_cflag: NS_CFLAGS[fd.link.type],
      flags: fileFlags(fd.fdinfo.flags),
    };
    return toMessage(entry);
  },
};
