/**
 * `crtool dump` command lines read without commander (plain-args.ts): `-t
 * PID -D DIR` with the flags below, turned into what commander would give
 * dumpCommand. No commander here.
 */
import type { PlainOption } from "../plain-args.js";
import type { DumpFlags } from "./dump-run.js";

/** A process id as `-t` takes it, or undefined. */
export function parsePid(value: string): number | undefined {
  const n = Number(value);
  return /^\d+$/.test(value) && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** dump's options that plain-args.ts reads (the same flags dump.ts registers); the others go to commander. */
export const PLAIN_DUMP_OPTIONS: readonly PlainOption[] = [
  { short: "-t", long: "--tree", key: "tree", takesValue: true },
  { short: "-D", long: "--images-dir", key: "imagesDir", takesValue: true },
  { long: "--leave-stopped", key: "leaveStopped", takesValue: false },
  { long: "--skip-unsupported", key: "skipUnsupported", takesValue: false },
  { long: "--json", key: "json", takesValue: false },
  { short: "-v", long: "--verbose", key: "verbose", takesValue: false },
  { long: "--timings", key: "timings", takesValue: false },
];

/** The DumpFlags commander would give a plain command line (with --freezer's default), or undefined. */
export function plainDumpFlags(options: Record<string, string | true>): DumpFlags | undefined {
  const { tree, imagesDir, ...flags } = options;
  const pid = typeof tree === "string" ? parsePid(tree) : undefined;
  if (pid === undefined || typeof imagesDir !== "string") return undefined;
  return { ...(flags as Omit<DumpFlags, "tree" | "imagesDir">), tree: pid, imagesDir, freezer: "auto" };
}
