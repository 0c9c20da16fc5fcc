import type { Command } from "commander";
import { registerDecode } from "./commands/decode.js";
import { registerEncode } from "./commands/encode.js";
import { registerInfo } from "./commands/info.js";
import { registerExplore } from "./commands/explore.js";

/** The crit subcommands, shared by `crit` and `crtool`. */
export function registerImageCommands(program: Command): void {
  registerDecode(program);
  registerEncode(program);
  registerInfo(program);
  registerExplore(program);
}
