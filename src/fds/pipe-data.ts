/**
 * The bytes buffered in a pipe or FIFO, saved without taking them: tee(2)
 * duplicates the buffers into a pipe of crtool's own (sized like the
 * source so one call copies everything), and only that copy is read — the
 * task's pipe keeps its data, in order. As CRIU's pipes.c
 * dump_one_pipe_data: pipe_data_entry {pipe_id, bytes, size = the pipe's
 * capacity (F_GETPIPE_SZ)} then the bytes, once per pipe.
 *
 * tee needs a read end. When the task holds only the write end, crtool
 * opens /proc/PID/fd/N read-only, a new reader of the same pipe. (CRIU saves
 * data only through a read end in the dumped tree, so it drops the data of
 * a pipe whose reader is outside; crtool keeps it.)
 */
import { closeSync, openSync } from "node:fs";
import type { DumpContext } from "../contract/dump-context.js";
import type { MagicName } from "../images/magic.js";
import type { PipeDataEntry } from "../images/schema/types.js";
import { F_GETPIPE_SZ, F_SETPIPE_SZ, O_CLOEXEC, SPLICE_F_NONBLOCK, close, fcntl, isErrno, pipe2, read, tee } from "../kernel/index.js";
import type { TaskFd } from "../contract/fd-kind.js";
import { toMessage } from "./message.js";
import { O_ACCMODE, O_NONBLOCK, O_RDONLY, O_WRONLY, fileFlags } from "../kernel/index.js";

export interface PipeDataImage {
  fileName: "pipes-data.img" | "fifo-data.img";
  magic: Extract<MagicName, "PIPES_DATA" | "FIFO_DATA">;
}

export const PIPES_DATA: PipeDataImage = { fileName: "pipes-data.img", magic: "PIPES_DATA" };
export const FIFO_DATA: PipeDataImage = { fileName: "fifo-data.img", magic: "FIFO_DATA" };

/** Saves the pipe's buffered bytes once per dump (whichever end is dumped first). */
export function dumpPipeDataOnce(fd: TaskFd, lfd: number, pipeId: number, image: PipeDataImage, ctx: DumpContext): Promise<void> {
  return ctx.once(`${image.fileName}:${pipeId}`, async () => {
    const data = peekPipe(fd, lfd);
    const entry: PipeDataEntry = { pipe_id: pipeId, bytes: data.bytes.length, size: data.capacity };
    ctx.image(image.fileName, image.magic).append(toMessage(entry), data.bytes);
  });
}

/** The pipe's capacity and a copy of its buffered bytes; the pipe itself is left as it was. */
export function peekPipe(fd: TaskFd, lfd: number): { capacity: number; bytes: Uint8Array } {
  const writeOnly = (fileFlags(fd.fdinfo.flags) & O_ACCMODE) === O_WRONLY;
  // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
  const readFd = writeOnly ? openSync(`/proc/${fd.pid}/fd/${fd.fd}`, O_RDONLY | O_NONBLOCK) : lfd;
  try {
    return peekReadEnd(readFd);
  } finally {
    if (readFd !== lfd) closeSync(readFd);
  }
}

function peekReadEnd(readFd: number): { capacity: number; bytes: Uint8Array } {
  const capacity = fcntl(readFd, F_GETPIPE_SZ);
  const [r, w] = pipe2(O_CLOEXEC);
  try {
    // Our pipe must hold everything the source holds, or tee stops short.
    fcntl(w, F_SETPIPE_SZ, capacity);
    let n = 0;
    try {
      n = tee(readFd, w, capacity, SPLICE_F_NONBLOCK);
    } catch (e) {
      // EAGAIN: the pipe is empty.
      if (!isErrno(e, "EAGAIN")) throw e;
    }
    const bytes = new Uint8Array(n);
    for (let got = 0; got < n; ) {
      const k = read(r, bytes, got, n - got);
      if (k === 0) break;
      got += k;
    }
    return { capacity, bytes };
  } finally {
    close(r);
    close(w);
  }
}
