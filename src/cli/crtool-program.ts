/** crtool's command-line program (commander): every command, its help and its errors. */
import type { Command } from "commander";
import { binProgram } from "./bin-program.js";
import { registerImageCommands } from "./image-commands.js";
import { registerDump } from "./commands/dump.js";
import { registerCheck } from "./commands/check.js";
import { registerDemo } from "./commands/demo.js";
import { registerRestore } from "./commands/restore.js";
import { registerMaps } from "./commands/maps.js";
import { registerMemparse } from "./commands/memparse.js";
import { registerInspect } from "./commands/inspect.js";
import { registerView } from "./commands/view.js";

export function crtoolProgram(): Command {
  const program = binProgram("crtool", "Checkpoint/restore of file descriptors and BPF maps in CRIU's image format, and a crit-compatible image toolkit");
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
