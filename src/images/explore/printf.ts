/**
 * The subset of Python's `%` formatting that crit's explorers use:
 * flags `-`, `0`, `#`; a width; an ignored `l`; conversions s, d, x.
 */
export function pyPercent(format: string, ...args: (string | number | bigint)[]): string {
  let i = 0;
  return format.replace(/%([-#0]*)(\d*)l?([sdx%])/g, (_m, flags: string, width: string, conv: string) => {
    if (conv === "%") return "%";
    const arg = args[i++];
    let body: string;
    if (conv === "s") body = String(arg);
    else {
      const n = BigInt(arg as number | bigint);
      const neg = n < 0n;
      const mag = neg ? -n : n;
      body = conv === "d" ? mag.toString() : (flags.includes("#") ? "0x" : "") + mag.toString(16);
      if (flags.includes("0") && !flags.includes("-") && width) {
        const w = Number(width) - (neg ? 1 : 0);
        const prefix = body.startsWith("0x") ? "0x" : "";
        body = prefix + body.slice(prefix.length).padStart(w - prefix.length, "0");
      }
      if (neg) body = "-" + body;
    }
    const w = Number(width || 0);
    return flags.includes("-") ? body.padEnd(w) : body.padStart(w);
  });
}
