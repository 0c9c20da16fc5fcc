/**
 * PIPE: an end of an anonymous pipe (pipes.c): pipe_entry {id, pipe_id (the
 * pipe's inode number), flags, fown}, plus the buffered bytes in
 * pipes-data.img once per pipe (pipe-data.ts). Both ends share the pipe_id;
 * the restore pairs them up by it (pipe-restore.ts).
 */
import type { DumpContext } from "../contract/dump-context.js";
import { type PipeEntry, PipeEntrySchema } from "../images/schema/types.js";
import type { RestorableFdKind, TaskFd } from "../contract/fd-kind.js";
import { isFifo } from "./file-mode.js";
import { readFown } from "./fown.js";
import { fromMessage, toMessage } from "./message.js";
import { O_DIRECT, fileFlags } from "../kernel/index.js";
import { PIPES_DATA, dumpPipeDataOnce } from "./pipe-data.js";
import { restorePipe } from "./pipe-restore.js";
import { unsupported } from "./unsupported.js";

/** pipe_id: the inode number as CRIU keeps it, in a u32. */
export function pipeId(fd: TaskFd): number {
  return Number(fd.stat.ino & 0xffffffffn);
}

export const pipeKind: RestorableFdKind = {
  type: "PIPE",
  field: "pipe",
  detect(fd: TaskFd): boolean {
    return fd.link.kind === "pseudo" && fd.link.type === "pipe" && isFifo(fd.stat.mode);
  },
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const lfd = ctx.grab(fd);
    const flags = fileFlags(fd.fdinfo.flags);
    // Packet mode keeps write boundaries, which tee and the image format do not record.
    if (flags & O_DIRECT) throw unsupported(fd, "PIPE", "packet-mode pipes (O_DIRECT) are not supported");
    const entry: PipeEntry = { id, pipe_id: pipeId(fd), flags, fown: readFown(lfd, flags) };
    await dumpPipeDataOnce(fd, lfd, entry.pipe_id, PIPES_DATA, ctx);
    return toMessage(entry);
  },
  restore(message, id, ctx) {
    return restorePipe(fromMessage(PipeEntrySchema, message), id, ctx);
  },
};
