/** crit's command-line program (commander): every subcommand, its help and its errors. */
import { Command } from "commander";
import { registerImageCommands } from "./image-commands.js";
import { SYNC_OUTPUT } from "./main.js";
import { packageVersion } from "./version.js";

export function critProgram(): Command {
  const program = new Command("crit")
    .description("CRiu Image Tool")
    .version(packageVersion(), "--version")
    .showHelpAfterError("(use crit --help for usage)")
    .configureOutput(SYNC_OUTPUT);
  registerImageCommands(program);
  return program;
}
