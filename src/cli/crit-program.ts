/** crit's command-line program (commander): every subcommand, its help and its errors. */
import type { Command } from "commander";
import { binProgram } from "./bin-program.js";
import { registerImageCommands } from "./image-commands.js";

export function critProgram(): Command {
  const program = binProgram("crit", "CRiu Image Tool");
  registerImageCommands(program);
  return program;
}
