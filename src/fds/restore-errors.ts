/**
 * How the fd kinds report what they cannot restore. A NotSupportedError
 * names the file id, the kind and why (the orchestrator adds the fd number
 * and, with --skip-unsupported, leaves that fd out). State that can be lost
 * without leaving the file out (a SIGIO owner, one epoll target) goes
 * through loseOrThrowOnRestore, as the dump side's loseOrThrow does.
 */
import { CrtoolError, NotSupportedError } from "../images/errors.js";
import type { RestoreContext } from "../contract/restore-context.js";

export function cannotRestore(id: number, kind: string, why: string): NotSupportedError {
  return new NotSupportedError(`file ${id} (${kind}): ${why}`);
}

/** Throws unless the user asked to skip what cannot be restored; then logs the loss and returns. */
export function loseOrThrowOnRestore(ctx: RestoreContext, id: number, kind: string, why: string): void {
  if (!ctx.options.skipUnsupported) throw cannotRestore(id, kind, why);
  ctx.log(`file ${id} (${kind}): not restored: ${why}`);
}

/**
 * The file at a recorded path is not the one that was dumped (its size,
 * mode or build-id differ). CRIU refuses to restore such a file, and so does
 * crtool: reopening it would give the process other contents than it had.
 * Not a NotSupportedError, so --skip-unsupported does not hide it.
 */
export class FileChangedError extends CrtoolError {
  readonly code = "FILE_CHANGED";
}
