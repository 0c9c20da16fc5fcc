/** Errors of the BPF map layer: both are one-line, user-facing CrtoolErrors. */
import { CrtoolError, NotSupportedError } from "../images/errors.js";

/**
 * A map whose contents crtool cannot save, because of its type or its state.
 * It is a NotSupportedError, so `--skip-unsupported` applies to it; `why` is
 * the reason alone (for ctx.stats.skipped), the message names everything:
 * "pid 1234 fd 3: BPF map 17 (PROG_ARRAY) cannot be dumped: its values are ...".
 */
export class MapNotSupportedError extends NotSupportedError {
  override readonly code: string = "BPF_MAP_NOT_SUPPORTED";

  constructor(
    readonly owner: string,
    readonly mapId: number,
    readonly mapTypeName: string,
    readonly why: string,
    /** How the owner reaches the map when not directly: "an inner map of BPF map 17 (HASH_OF_MAPS)". */
    readonly via?: string,
  ) {
    super(`${owner}: BPF map ${mapId} (${mapTypeName})${via ? `, ${via},` : ""} cannot be dumped: ${why}`);
  }
}

/**
 * Reading a map's contents went wrong in a way that is not a failed system
 * call: the map changed under the reader, a QUEUE/STACK could not be put back
 * as it was, or the contents do not fit CRIU's format.
 */
export class MapContentsError extends CrtoolError {
  readonly code: string = "BPF_MAP_CONTENTS";
}
