/**
 * Text conventions of Python's `json.dump(..., ensure_ascii=True)`, which is
 * what crit writes: `\uXXXX` (lowercase hex) for everything outside printable
 * ASCII, short escapes for \n \r \t \b \f, and `<`, `&`, `/` left alone.
 */

const SHORT_ESCAPES: Record<number, string> = {
  0x22: '\\"',
  0x5c: "\\\\",
  0x0a: "\\n",
  0x0d: "\\r",
  0x09: "\\t",
  0x08: "\\b",
  0x0c: "\\f",
};

// Printable ASCII except `"` and `\` needs no escaping at all.
const NEEDS_ESCAPE = /[^\x20-\x21\x23-\x5b\x5d-\x7e]/;

/** A JSON string literal (with quotes) exactly as Python's json module writes it. */
export function pyJsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(run, i);
    const short = SHORT_ESCAPES[c];
    // JS strings are UTF-16 already, so surrogate pairs come out as two
    // \uXXXX escapes, the same as Python does for non-BMP characters.
    out += short ?? "\\u" + c.toString(16).padStart(4, "0");
    run = i + 1;
  }
  return out + s.slice(run) + '"';
}

/** Indentation unit of `--pretty` (json.dump indent=4). */
export const INDENT = "    ";
