/** What both bins' commander programs share: --version, the hint after a usage error, output by write(2) (SYNC_OUTPUT), no empty values. */
import { Command } from "commander";
import { SYNC_OUTPUT } from "./main.js";
import { packageVersion } from "./version.js";

const isEmpty = (v: unknown): boolean => v === "" || (Array.isArray(v) && v.includes(""));

/**
 * No option or argument of either tool means anything as "" (a path, a pid,
 * a map's name, a pattern), and an empty path would reach the command as
 * one: `--archive ''` dumped the whole tree and then failed to rename its
 * file to "". Refused before the command runs, in commander's words.
 */
function refuseEmptyValues(_program: Command, command: Command): void {
  for (const option of command.options) {
    const key = option.attributeName();
    if (command.getOptionValueSource(key) === "cli" && isEmpty(command.getOptionValue(key))) {
      command.error(`error: option '${option.flags}' argument '' is invalid. expected a value, not an empty string`, { exitCode: 1, code: "commander.invalidArgument" });
    }
  }
  command.registeredArguments.forEach((argument, i) => {
    if (isEmpty(command.processedArgs[i])) {
      command.error(`error: command-argument value '' is invalid for argument '${argument.name()}'. expected a value, not an empty string`, { exitCode: 1, code: "commander.invalidArgument" });
    }
  });
}

export function binProgram(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .version(packageVersion(), "--version")
    .showHelpAfterError(`(use ${name} --help for usage)`)
    .configureOutput(SYNC_OUTPUT)
    .hook("preAction", refuseEmptyValues);
}
