/**
 * `crtool`: checkpoint/restore of file descriptors and BPF maps, plus the
 * crit commands. `crtool dump -t PID -D DIR` in its plainest form runs
 * without commander (plain-args.ts); every other command line goes through
 * the program.
 */
import { plainArgs } from "./plain-args.js";
import { runAction } from "./main.js";
import { plainPath } from "../debug/hooks.js";
import { PLAIN_DUMP_OPTIONS, plainDumpFlags } from "./commands/dump-plain.js";

void runAction("crtool", async () => {
  const options = plainArgs(process.argv.slice(2), "dump", PLAIN_DUMP_OPTIONS);
  const flags = options && plainDumpFlags(options);
  if (flags && !plainPath("argv")) {
    const { dumpCommand } = await import("./commands/dump-run.js");
    return dumpCommand(flags);
  }
  const { crtoolProgram } = await import("./crtool-program.js");
  return crtoolProgram().parseAsync(process.argv);
});
