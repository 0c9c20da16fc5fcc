/**
 * Putting a pipe's or FIFO's saved bytes back, as CRIU's pipes.c
 * restore_pipe_data does: the recorded capacity first (F_SETPIPE_SZ; the
 * bytes may need more than the default 64 KiB), then the bytes, written
 * before any restored end is handed out, so the process reads them first
 * and in order.
 */
import type { RestoreContext } from "../contract/restore-context.js";
import { IoError } from "../images/errors.js";
import { type PipeDataEntry, PipeDataEntrySchema } from "../images/schema/types.js";
import { F_SETPIPE_SZ, fcntl, isErrno, write } from "../kernel/index.js";
import { fromMessage } from "./message.js";
import type { PipeDataImage } from "./pipe-data.js";

export interface SavedPipeData {
  entry: PipeDataEntry;
  bytes: Uint8Array;
}

/** The saved bytes of pipe `pipeId` in `image` (pipes-data.img or fifo-data.img), if any were saved. */
export async function savedPipeData(ctx: RestoreContext, image: PipeDataImage, pipeId: number): Promise<SavedPipeData | undefined> {
  const entries = (await ctx.loadImage(image.fileName)) ?? [];
  const e = entries.find((x) => x.message.pipe_id === pipeId);
  if (!e) return undefined;
  const bytes = e.payload instanceof Uint8Array ? e.payload : new Uint8Array(0);
  return { entry: fromMessage(PipeDataEntrySchema, e.message), bytes };
}

/** Sizes the pipe behind `writeFd` (non-blocking, crtool's) and writes the bytes into it. */
export function refillPipe(writeFd: number, data: SavedPipeData, what: string): void {
  if (data.entry.size) fcntl(writeFd, F_SETPIPE_SZ, data.entry.size);
  const bytes = data.bytes;
  for (let done = 0; done < bytes.length; ) {
    try {
      done += write(writeFd, bytes, done, bytes.length - done);
    } catch (e) {
      if (!isErrno(e, "EAGAIN")) throw e;
      throw new IoError(`${what}: ${bytes.length} saved bytes do not fit in the pipe (only ${done} did); its recorded capacity is ${data.entry.size ?? "not recorded"}`);
    }
  }
}
