/**
 * Restoring a FIFO entry as CRIU's fifo.c do_open_fifo does: its path and
 * flags are the REG entry regf_id points at. Opening one end of a FIFO
 * waits until the other end is open, so the FIFO is first opened read-write
 * (which never waits, and is both ends meanwhile), then with the recorded
 * flags; the saved bytes go in through the read-write open, once per FIFO,
 * before it is closed.
 */
import { fstatSync } from "node:fs";
import type { RestoreContext } from "../contract/restore-context.js";
import type { FifoEntry, RegFileEntry } from "../images/schema/types.js";
import { isFifo } from "./file-mode.js";
import { restoreFown } from "./fown.js";
import { O_NONBLOCK, O_RDWR } from "../kernel/index.js";
import { FIFO_DATA } from "./pipe-data.js";
import { refillPipe, savedPipeData } from "./pipe-data-restore.js";
import { pathBytes } from "./link-path.js";
import { checkRestorablePath, checkSameFile, remapOf } from "./reg-file-restore.js";
import { FileChangedError, cannotRestore } from "./restore-errors.js";
import { closeQuietly, finishFd, openFlags, openPath, setStatusFlags } from "./restore-fd.js";

export async function restoreFifo(fe: FifoEntry, reg: RegFileEntry, id: number, ctx: RestoreContext): Promise<{ fd: number }> {
  const path = pathBytes(reg.name);
  const shown = Buffer.from(path).toString();
  checkRestorablePath(path, shown, id, "FIFO", ctx);
  if (reg.ext || reg.mnt_id !== undefined) throw cannotRestore(id, "FIFO", `${shown} is an external file or in a mount namespace of its own`);
  if (await remapOf(ctx, reg.id)) throw cannotRestore(id, "FIFO", `${shown} was unlinked; crtool re-creates only regular ghost files`);

  const both = openPath(path, O_RDWR | O_NONBLOCK);
  try {
    if (!isFifo(Number(fstatSync(both).mode))) throw new FileChangedError(`file ${id} (FIFO): ${shown} is no longer a FIFO`);
    const fd = openPath(path, openFlags(reg.flags));
    return await finishFd(fd, async () => {
      checkSameFile(fd, reg, id, "FIFO", shown, ctx);
      await ctx.once(`fifo-data:${fe.pipe_id}`, async () => {
        const data = await savedPipeData(ctx, FIFO_DATA, fe.pipe_id);
        if (data) refillPipe(both, data, `FIFO ${shown}`);
      });
      setStatusFlags(fd, reg.flags);
      restoreFown(fd, reg.fown, reg.flags, ctx, id, "FIFO");
    });
  } finally {
    closeQuietly(both);
  }
}
