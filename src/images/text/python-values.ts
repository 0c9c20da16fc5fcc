/**
 * Python value conventions crit's JSON inherits: `int(s, 0)` for integers
 * given as strings, and `repr(bytes)` for strings that are not valid UTF-8.
 */

const INT_LITERAL = /^([+-]?)(?:0[xX](_?[0-9a-fA-F])+|0[oO](_?[0-7])+|0[bB](_?[01])+|[1-9](_?\d)*|0(_?0)*)$/;

/** Python's `int(text, 0)`, or undefined when Python would raise ValueError. */
export function parsePythonInt(text: string): bigint | undefined {
  const t = text.trim();
  if (!INT_LITERAL.test(t)) return undefined;
  const neg = t.startsWith("-");
  const body = t.replace(/^[+-]/, "").replace(/_/g, "");
  let v: bigint;
  const p = body.slice(0, 2).toLowerCase();
  if (p === "0o") v = BigInt("0o" + body.slice(2));
  else v = BigInt(body); // BigInt understands decimal, 0x and 0b
  return neg ? -v : v;
}

/** Python's `repr(bytes)`: b'...' (or b"..." when that avoids escaping a quote). */
export function pythonBytesRepr(bytes: Uint8Array): string {
  const hasSingle = bytes.includes(0x27);
  const hasDouble = bytes.includes(0x22);
  const quote = hasSingle && !hasDouble ? 0x22 : 0x27;
  let out = "b" + String.fromCharCode(quote);
  for (const b of bytes) {
    if (b === quote || b === 0x5c) out += "\\" + String.fromCharCode(b);
    else if (b === 0x09) out += "\\t";
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b < 0x20 || b >= 0x7f) out += "\\x" + b.toString(16).padStart(2, "0");
    else out += String.fromCharCode(b);
  }
  return out + String.fromCharCode(quote);
}

const REPR = /^b(['"])(.*)\1$/s;

/** The bytes of a `repr(bytes)` text, or undefined if it is not one. */
export function parsePythonBytesRepr(text: string): Uint8Array | undefined {
  const m = REPR.exec(text);
  if (!m) return undefined;
  const body = m[2];
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c > 0x7e || c < 0x20) return undefined;
    if (c !== 0x5c) {
      if (c === m[1].charCodeAt(0)) return undefined;
      out.push(c);
      continue;
    }
    const e = body[++i];
    if (e === "x") {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (e === "t") out.push(9);
    else if (e === "n") out.push(10);
    else if (e === "r") out.push(13);
    else if (e === "\\" || e === "'" || e === '"') out.push(e.charCodeAt(0));
    else return undefined;
  }
  return Uint8Array.from(out);
}
