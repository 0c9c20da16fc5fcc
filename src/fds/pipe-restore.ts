/**
 * Restoring PIPE entries as CRIU's pipes.c does: one pipe(2) per pipe_id,
 * its saved bytes written in before any end is handed out, and each file
 * entry of that pipe_id given an end.
 *
 * Which entry gets which of pipe(2)'s two ends: as CRIU's
 * mark_pipe_master, the first read-only and the first write-only entry of
 * the restored process that have no O_LARGEFILE take them as they are;
 * every other entry (O_LARGEFILE ones were reopened through /proc by the
 * task, and get that flag again that way) is a new open of the pipe through
 * /proc/self/fd. An end of pipe(2) that no entry of the process takes is
 * closed as soon as the first end is handed out, so that a reader whose
 * writers were all gone sees end-of-file after the data, and a writer whose
 * readers were gone gets EPIPE, as in the dumped process.
 */
import type { RestoreContext } from "../contract/restore-context.js";
import type { PipeEntry } from "../images/schema/types.js";
import { O_CLOEXEC, pipe2 } from "../kernel/index.js";
import { FD_TYPE_NUMBERS } from "../contract/fd-kind.js";
import { restoreFown } from "./fown.js";
import { O_ACCMODE, O_DIRECT, O_LARGEFILE, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } from "../kernel/index.js";
import { PIPES_DATA } from "./pipe-data.js";
import { refillPipe, savedPipeData } from "./pipe-data-restore.js";
import { filesOfType, processFileIds } from "./process-files.js";
import { cannotRestore } from "./restore-errors.js";
import { OwnedFd, closeQuietly, finishFd, openFlags, reopenFd, setStatusFlags } from "./restore-fd.js";

type End = "read" | "write";
const ENDS: readonly End[] = ["read", "write"];

interface RestoredPipe {
  /** pipe(2)'s ends, until taken by their entry or closed. */
  ends: Record<End, OwnedFd>;
  /** The file ids that take pipe(2)'s ends as they are. */
  takers: Partial<Record<End, number>>;
  /** An fd already handed out: the way into the pipe once pipe(2)'s ends are gone. */
  via?: number;
}

/** PIPE entry `pe` (file `id`): one end of its pipe, with the recorded flags and owner. */
export async function restorePipe(pe: PipeEntry, id: number, ctx: RestoreContext): Promise<{ fd: number }> {
  if (pe.flags & O_DIRECT) throw cannotRestore(id, "PIPE", "packet-mode pipes (O_DIRECT) are not supported");
  const p = await ctx.once(`pipe:${pe.pipe_id}`, () => createPipe(pe.pipe_id, ctx));
  const end = endOf(pe.flags);
  const fd = end && p.takers[end] === id && p.ends[end].isOpen ? p.ends[end].release() : reopenPipe(p, pe.flags, id);
  const restored = await finishFd(fd, () => {
    setStatusFlags(fd, pe.flags);
    restoreFown(fd, pe.fown, pe.flags, ctx, id, "PIPE");
  });
  p.via = restored.fd;
  for (const e of ENDS) if (p.takers[e] === undefined) p.ends[e].close();
  return restored;
}

function endOf(flags: number): End | undefined {
  const acc = flags & O_ACCMODE;
  return acc === O_RDONLY ? "read" : acc === O_WRONLY ? "write" : undefined;
}

async function createPipe(pipeId: number, ctx: RestoreContext): Promise<RestoredPipe> {
  // Non-blocking while crtool fills it: saved bytes that do not fit fail instead of hanging.
  const [r, w] = pipe2(O_CLOEXEC | O_NONBLOCK);
  const p: RestoredPipe = { ends: { read: new OwnedFd(r, ctx), write: new OwnedFd(w, ctx) }, takers: {} };
  const data = await savedPipeData(ctx, PIPES_DATA, pipeId);
  if (data) refillPipe(w, data, `pipe ${pipeId}`);

  const mine = await processFileIds(ctx);
  for (const f of await filesOfType(ctx, FD_TYPE_NUMBERS.PIPE)) {
    const e = f.pipe as unknown as PipeEntry | undefined;
    if (!e || e.pipe_id !== pipeId || (mine && !mine.has(f.id as number)) || e.flags & O_LARGEFILE) continue;
    const end = endOf(e.flags);
    if (end && p.takers[end] === undefined) p.takers[end] = f.id as number;
  }
  return p;
}

/** A new open file of the pipe with the entry's access mode. */
function reopenPipe(p: RestoredPipe, flags: number, id: number): number {
  const via = p.ends.read.isOpen ? p.ends.read.fd : p.ends.write.isOpen ? p.ends.write.fd : p.via;
  // Only when the entry that took the last end failed (and closed it) before handing it out.
  if (via === undefined) throw cannotRestore(id, "PIPE", "the pipe's other open files failed to restore, leaving nothing to reopen it through");
  // Through /proc a pipe opens like a FIFO: one end waits for the other. A read-write open never waits, and is the other end meanwhile.
  const both = reopenFd(via, O_RDWR);
  try {
    return reopenFd(both, openFlags(flags) | O_NONBLOCK);
  } finally {
    closeQuietly(both);
  }
}
