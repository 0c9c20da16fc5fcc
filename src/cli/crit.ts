/**
 * `crit`: a drop-in for CRIU's crit (same subcommands and flags, same
 * output). `crit decode` in its plainest form runs without commander
 * (plain-args.ts); every other command line goes through the program.
 */
import { DECODE_OPTIONS, decodeCommand, type DecodeCommandOptions } from "./commands/decode.js";
import { plainArgs } from "./plain-args.js";
import { runAction } from "./main.js";
import { plainPath } from "../debug/hooks.js";

void runAction("crit", async () => {
  const plain = plainArgs(process.argv.slice(2), "decode", DECODE_OPTIONS);
  if (plain && !plainPath("argv")) return decodeCommand(plain as DecodeCommandOptions);
  const { critProgram } = await import("./crit-program.js");
  return critProgram().parseAsync(process.argv);
});
