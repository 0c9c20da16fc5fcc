/** A command line a command cannot run with, found by the command itself: one line, exit code 1, like commander's own. */
import { CrtoolError } from "../errors/base.js";

export class UsageError extends CrtoolError {
  readonly code = "USAGE";
}
