/**
 * Restoring an EVENTPOLL entry (eventpoll.c): a new epoll with the recorded
 * flags and owner, and each target added back with its events and data.
 * Targets are recorded by the fd number they had in the task: the
 * RestoreContext maps that number to the target's file id, and the target
 * is restored first if it was not yet (restoreOrder puts epolls last anyway).
 *
 * An epoll item is keyed by (file, fd number), and the task's later
 * EPOLL_CTL_MOD/DEL find it by the number it used. So crtool adds a target
 * under the task's number when that number is free in its own fd table
 * (borrowing it for the call). Otherwise the item is handed to the launch
 * (ctx.deferEpollItem), which adds it inside the restored command under the
 * command's own numbers (src/checkpoint/launch.ts); without a launch, or when
 * the command cannot be traced, it is added under crtool's fd of the target,
 * and then the epoll's fdinfo shows crtool's number and MOD/DEL by the
 * task's number fail with ENOENT.
 */
import type { RestoreContext } from "../contract/restore-context.js";
import { NotSupportedError } from "../images/errors.js";
import type { EventpollFileEntry, EventpollTfdEntry } from "../images/schema/types.js";
import { F_DUPFD_CLOEXEC, O_CLOEXEC, check, dup, fcntl, isErrno } from "../kernel/index.js";
import { restoreFown } from "./fown.js";
import { loseOrThrowOnRestore } from "./restore-errors.js";
import { closeQuietly, finishFd, setStatusFlags } from "./restore-fd.js";
import { EPOLL_CTL_ADD, epollCreate1, epollCtlRaw } from "../kernel/index.js";

const EEXIST = 17;

export async function restoreEventpoll(e: EventpollFileEntry, id: number, ctx: RestoreContext): Promise<{ fd: number }> {
  // EPOLL_CLOEXEC is O_CLOEXEC.
  const fd = epollCreate1(O_CLOEXEC);
  return finishFd(fd, async () => {
    setStatusFlags(fd, e.flags);
    restoreFown(fd, e.fown, e.flags, ctx, id, "EVENTPOLL");
    for (const t of e.tfd ?? []) await addTarget(fd, t, id, ctx);
  });
}

async function addTarget(epfd: number, t: EventpollTfdEntry, id: number, ctx: RestoreContext): Promise<void> {
  const fileId = ctx.fileIdOfFd(t.tfd);
  if (fileId === undefined) {
    loseOrThrowOnRestore(ctx, id, "EVENTPOLL", `watched fd ${t.tfd} is not in the process's fd table, so its file is unknown`);
    return;
  }
  let target: number;
  try {
    target = await ctx.restoreFile(fileId);
  } catch (err) {
    if (!(err instanceof NotSupportedError)) throw err;
    loseOrThrowOnRestore(ctx, id, "EVENTPOLL", `watched fd ${t.tfd} (file ${fileId}) cannot be restored: ${err.reason}`);
    return;
  }
  addUnderNumber(epfd, target, t, ctx);
}

/** EPOLL_CTL_ADD of `target` with the task's number when crtool has it free; else deferred to the launch. */
function addUnderNumber(epfd: number, target: number, t: EventpollTfdEntry, ctx: RestoreContext): void {
  const detail = `epoll target fd ${t.tfd}`;
  // F_DUPFD returns the lowest free number from t.tfd on: t.tfd itself when it is free.
  const borrowed = dupFrom(target, t.tfd);
  if (borrowed === t.tfd) {
    try {
      check(epollCtlRaw(epfd, EPOLL_CTL_ADD, borrowed, t.events, t.data), "epoll_ctl", detail);
    } finally {
      closeQuietly(borrowed);
    }
    return;
  }
  if (borrowed !== undefined) closeQuietly(borrowed);
  const addFromCrtool = () => addUnderCrtoolNumber(epfd, target, t);
  if (ctx.deferEpollItem) ctx.deferEpollItem({ epoll: epfd, target, tfd: t.tfd, events: t.events, data: t.data, addFromCrtool });
  else addFromCrtool();
}

/** The fallback: the item keyed by crtool's fd of the target (a second number if the task used two). */
function addUnderCrtoolNumber(epfd: number, target: number, t: EventpollTfdEntry): void {
  const add = (fd: number) => epollCtlRaw(epfd, EPOLL_CTL_ADD, fd, t.events, t.data);
  const detail = `epoll target fd ${t.tfd}`;
  let spare: number | undefined;
  try {
    let r = add(target);
    if (r === -EEXIST) r = add((spare = dup(target)));
    check(r, "epoll_ctl", detail);
  } finally {
    if (spare !== undefined) closeQuietly(spare);
  }
}

function dupFrom(fd: number, from: number): number | undefined {
  try {
    return fcntl(fd, F_DUPFD_CLOEXEC, from);
  } catch (e) {
    // EINVAL: the number is over crtool's fd limit; EMFILE: no free number from there on.
    if (isErrno(e, "EINVAL") || isErrno(e, "EMFILE")) return undefined;
    throw e;
  }
}
