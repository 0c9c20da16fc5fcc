/**
 * What a kind does with state it cannot save: a NotSupportedError naming the
 * process, fd, kind and reason, or, when the user asked to skip what cannot
 * be dumped, a note in the dump's stats and a dump of the rest.
 */
import { NotSupportedError } from "../images/errors.js";
import type { DumpContext } from "../contract/dump-context.js";
import type { TaskFd } from "../contract/fd-kind.js";

export function unsupported(fd: TaskFd, kind: string, why: string): NotSupportedError {
  return new NotSupportedError(`pid ${fd.pid} fd ${fd.fd} (${kind}): ${why}`);
}

/**
 * Throws unless options.skipUnsupported is set; then records the loss in
 * stats.skipped and returns, so the caller writes what it can.
 */
export function loseOrThrow(ctx: DumpContext, fd: TaskFd, kind: string, why: string): void {
  if (!ctx.options.skipUnsupported) throw unsupported(fd, kind, why);
  ctx.skip({ pid: fd.pid, fd: fd.fd, kind, why }, `pid ${fd.pid} fd ${fd.fd} (${kind}): not saved: ${why}`);
}
