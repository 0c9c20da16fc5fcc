/** crtool's command-line program (commander): every command, its help and its errors. */
import { Command } from "commander";
import { registerImageCommands } from "./image-commands.js";
import { registerDump } from "./commands/dump.js";
import { registerCheck } from "./commands/check.js";
import { registerDemo } from "./commands/demo.js";
import { registerRestore } from "./commands/restore.js";
import { registerMaps } from "./commands/maps.js";
import { registerMemparse } from "./commands/memparse.js";
import { registerInspect } from "./commands/inspect.js";
import { registerView } from "./commands/view.js";
import { SYNC_OUTPUT } from "./main.js";
import { packageVersion } from "./version.js";

export function crtoolProgram(): Command {
  const program = new Command("crtool")
    .description("Checkpoint/restore of file descriptors and BPF maps in CRIU's image format, and a crit-compatible image toolkit")
    .version(packageVersion(), "--version")
    .showHelpAfterError("(use crtool --help for usage)")
    .configureOutput(SYNC_OUTPUT);
  registerImageCommands(program, { namedExtensions: true });
  registerDump(program);
  registerCheck(program);
  registerRestore(program);
  registerMaps(program);
  registerMemparse(program);
  registerInspect(program);
  registerView(program);
  registerDemo(program);
  return program;
}
