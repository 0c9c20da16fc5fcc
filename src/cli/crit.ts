/** `crit`: a drop-in for CRIU's crit (same subcommands and flags, same output). */
import { Command } from "commander";
import { registerImageCommands } from "./image-commands.js";
import { SYNC_OUTPUT, runProgram } from "./main.js";
import { packageVersion } from "./version.js";

const program = new Command("crit")
  .description("CRiu Image Tool")
  .version(packageVersion(), "--version")
  .showHelpAfterError("(use crit --help for usage)")
  .configureOutput(SYNC_OUTPUT);
registerImageCommands(program);
void runProgram("crit", program, process.argv);
