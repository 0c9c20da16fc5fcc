/**
 * FIFO: an open named pipe (fifo.c). Its path and open flags are a REG
 * entry of their own (a new file id, written first), which fifo_entry
 * points at through regf_id — one pair per open file of the FIFO — and its
 * buffered bytes go to fifo-data.img once per FIFO. Restore: fifo-restore.ts.
 */
import type { DumpContext } from "../contract/dump-context.js";
import type { ImageMessage } from "../images/wire/message.js";
import { ImageFormatError } from "../images/errors.js";
import { type FifoEntry, type RegFileEntry, FifoEntrySchema, RegFileEntrySchema } from "../images/schema/types.js";
import { FD_TYPE_NUMBERS, type RestorableFdKind, type TaskFd } from "../contract/fd-kind.js";
import { restoreFifo } from "./fifo-restore.js";
import { isFifo } from "./file-mode.js";
import { fromMessage, toMessage } from "./message.js";
import { FIFO_DATA, dumpPipeDataOnce } from "./pipe-data.js";
import { pipeId } from "./pipe.js";
import { dumpRegFile } from "./reg-file.js";

export const fifoKind: RestorableFdKind = {
  type: "FIFO",
  field: "fifo",
  detect(fd: TaskFd): boolean {
    return fd.link.kind === "path" && isFifo(fd.stat.mode);
  },
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const regId = ctx.newFileId();
    const reg = await dumpRegFile(fd, regId, ctx, "FIFO");
    ctx.addFile({ type: FD_TYPE_NUMBERS.REG, id: regId, reg: toMessage(reg) });
    const entry: FifoEntry = { id, pipe_id: pipeId(fd), regf_id: regId };
    await dumpPipeDataOnce(fd, ctx.grab(fd), entry.pipe_id, FIFO_DATA, ctx);
    return toMessage(entry);
  },
  restore(message, id, ctx) {
    const fe = fromMessage(FifoEntrySchema, message);
    const reg = fe.regf_id === undefined ? undefined : ctx.fileEntry(fe.regf_id)?.reg;
    if (!reg) throw new ImageFormatError(`file ${id} (FIFO): files.img has no REG entry ${fe.regf_id ?? "(no regf_id)"} for its path`);
    return restoreFifo(fe, fromMessage(RegFileEntrySchema, reg as ImageMessage), id, ctx);
  },
};
