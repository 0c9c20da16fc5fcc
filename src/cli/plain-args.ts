/**
 * Command lines read without commander, for the commands measured for their
 * start-up: loading commander and registering every command costs about as
 * much as `crit decode` of a small image. Only the plainest form is read:
 * the command's name, then each of its options at most once, as `-x VALUE`,
 * `--long VALUE` or a flag, with values that are not empty and do not start
 * with "-". Anything else (help, --version, `--in=FILE`, an option given
 * twice, an unknown option or argument, a value starting with "-" or empty) goes to commander,
 * whose parsing, help and errors stay the only ones. CRTOOL_PLAIN=argv
 * sends every command line to commander (tests compare the two).
 */
export interface PlainOption {
  /** `-i`, if the option has a short form. */
  short?: string;
  /** `--in`. */
  long: string;
  /** The key commander gives its value under (`in`). */
  key: string;
  takesValue: boolean;
}

/** The options `args` (argv after the program's name) gives `command`, as commander would; undefined unless plain. */
export function plainArgs(args: readonly string[], command: string, options: readonly PlainOption[]): Record<string, string | true> | undefined {
  if (args[0] !== command) return undefined;
  const out: Record<string, string | true> = {};
  for (let i = 1; i < args.length; i++) {
    const option = options.find((o) => o.long === args[i] || (o.short !== undefined && o.short === args[i]));
    if (!option || option.key in out) return undefined;
    if (!option.takesValue) {
      out[option.key] = true;
      continue;
    }
    const value = args[++i];
    if (value === undefined || value === "" || value.startsWith("-")) return undefined;
    out[option.key] = value;
  }
  return out;
}
