/** `decode [--pretty] [-i IN] [-o OUT]` and `show IN [--nopl]`: binary image → crit JSON. */
import type { Command } from "commander";
import type { PlainOption } from "../plain-args.js";

export interface DecodeCommandOptions {
  in?: string;
  out?: string;
  pretty?: boolean;
  nopl?: boolean;
  namedExtensions?: boolean;
}

export async function decodeCommand(opts: DecodeCommandOptions): Promise<void> {
  const [{ imageToJson }, { openImage }, { openOutput }] = await Promise.all([import("../../images/crit/json-document.js"), import("../../io/input.js"), import("../../io/output.js")]);
  const reader = await openImage(opts.in);
  const out = await openOutput(opts.out);
  try {
    await imageToJson(reader, (t) => out.write(t), { pretty: opts.pretty, nopl: opts.nopl, namedExtensions: opts.namedExtensions });
    // Like crit: a newline on stdout only.
    if (!opts.out) await out.write("\n");
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/** decode's options, for plain-args.ts: the same flags as registered below. */
export const DECODE_OPTIONS: readonly PlainOption[] = [
  { short: "-i", long: "--in", key: "in", takesValue: true },
  { short: "-o", long: "--out", key: "out", takesValue: true },
  { long: "--pretty", key: "pretty", takesValue: false },
];

/**
 * `namedExtensions`: crtool's bin shows crtool's own fields by name; crit's
 * prints them as crit does (under "$unknown").
 */
export function registerDecode(program: Command, { namedExtensions = false } = {}): void {
  program
    .command("decode")
    .description("convert criu image from binary type to json")
    .option("--pretty", "Multiline with indents and some numerical fields in field-specific format")
    .option("-i, --in <file>", "criu image in binary format to be decoded (stdin by default)")
    .option("-o, --out <file>", "where to put criu image in json format (stdout by default)")
    .action((opts: DecodeCommandOptions) => decodeCommand({ ...opts, namedExtensions }));

  program
    .command("show")
    .description("convert criu image from binary to human-readable json")
    .argument("<in>", "criu image in binary format")
    .option("--nopl", "do not show entry payload (if exists)")
    .action((input: string, opts: { nopl?: boolean }) => decodeCommand({ in: input, pretty: true, nopl: opts.nopl, namedExtensions }));
}
