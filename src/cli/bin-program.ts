/** What both bins' commander programs share: --version, the hint after a usage error, output by write(2) (SYNC_OUTPUT). */
import { Command } from "commander";
import { SYNC_OUTPUT } from "./main.js";
import { packageVersion } from "./version.js";

export function binProgram(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .version(packageVersion(), "--version")
    .showHelpAfterError(`(use ${name} --help for usage)`)
    .configureOutput(SYNC_OUTPUT);
}
