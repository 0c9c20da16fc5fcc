import type { Command } from "commander";
import { registerDecode } from "./commands/decode.js";
import { registerEncode } from "./commands/encode.js";
import { registerInfo } from "./commands/info.js";
import { registerExplore } from "./commands/explore.js";

/**
 * The crit subcommands, shared by `crit` and `crtool` (whose decode and show
 * print crtool's own extension fields by name).
 */
export function registerImageCommands(program: Command, opts: { namedExtensions?: boolean } = {}): void {
  registerDecode(program, opts);
  registerEncode(program);
  registerInfo(program);
  registerExplore(program);
}
