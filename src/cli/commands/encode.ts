/** `encode [-i IN] [-o OUT]`: crit JSON (plain or pretty) → binary image. */
import type { Command } from "commander";
import { CrtoolError } from "../../images/errors.js";

export async function encodeCommand(opts: { in?: string; out?: string }): Promise<void> {
  const [{ jsonToImage }, { inputName, openInputStream }, { openOutput }] = await Promise.all([import("../../images/crit/image-document.js"), import("../../io/input.js"), import("../../io/output.js")]);
  const input = await openInputStream(opts.in);
  const out = await openOutput(opts.out, 0o600);
  try {
    await jsonToImage(input, (b) => out.write(b));
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e instanceof CrtoolError ? e.withLocation({ file: inputName(opts.in) }) : e;
  }
}

export function registerEncode(program: Command): void {
  program
    .command("encode")
    .description("convert criu image from json type to binary")
    .option("-i, --in <file>", "criu image in json format to be encoded (stdin by default)")
    .option("-o, --out <file>", "where to put criu image in binary format (stdout by default)")
    .action((opts: { in?: string; out?: string }) => encodeCommand(opts));
}
