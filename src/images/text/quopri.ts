/**
 * Quoted-printable as Python's `quopri.encodestring` / `decodestring` do it
 * (binascii.b2a_qp with quotetabs=False, istext=True, header=False). crit uses
 * it for unix socket names (`(criu).conv = "unix_name"`), which are bytes
 * that are usually text with a NUL in front (abstract sockets).
 */
import { JsonInputError } from "../errors.js";

const MAXLINESIZE = 76;
const HEX = "0123456789ABCDEF";

function needsQuoting(data: Uint8Array, i: number, lineLen: number): boolean {
  const c = data[i];
  const last = i + 1 === data.length;
  if (c > 126 || c === 0x3d) return true;
  // A '.' alone on a line could end an SMTP message.
  if (c === 0x2e && lineLen === 0 && (last || data[i + 1] === 10 || data[i + 1] === 13 || data[i + 1] === 0)) return true;
  if ((c === 9 || c === 32) && last) return true;
  return c < 33 && c !== 13 && c !== 10 && c !== 9 && c !== 32;
}

export function quopriEncode(data: Uint8Array): string {
  // Line breaks are written as CRLF when the first one in the data is.
  const firstLf = data.indexOf(10);
  const crlf = firstLf > 0 && data[firstLf - 1] === 13;
  const eol = crlf ? "\r\n" : "\n";
  let out = "";
  let lineLen = 0;
  let i = 0;
  while (i < data.length) {
    const c = data[i];
    if (needsQuoting(data, i, lineLen)) {
      if (lineLen + 3 >= MAXLINESIZE) {
        out += "=" + eol;
        lineLen = 0;
      }
      out += "=" + HEX[c >> 4] + HEX[c & 15];
      lineLen += 3;
      i++;
    } else if (c === 10 || (c === 13 && i + 1 < data.length && data[i + 1] === 10)) {
      lineLen = 0;
      // Whitespace at the end of a line would be lost in transit: quote it.
      const prev = out.charCodeAt(out.length - 1);
      if (out.length > 0 && (prev === 32 || prev === 9)) {
        out = out.slice(0, -1) + "=" + HEX[prev >> 4] + HEX[prev & 15];
      }
      out += eol;
      i += c === 13 ? 2 : 1;
    } else {
      if (i + 1 !== data.length && data[i + 1] !== 10 && lineLen + 1 >= MAXLINESIZE) {
        out += "=" + eol;
        lineLen = 0;
      }
      out += String.fromCharCode(c);
      lineLen++;
      i++;
    }
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** `quopri.decodestring`: "=XX" escapes and "=" soft line breaks; anything else is literal. */
export function quopriDecode(text: string, what = "quoted-printable value"): Uint8Array {
  const out: number[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7e) throw new JsonInputError(`invalid ${what}: character ${JSON.stringify(text[i])} is not ASCII`);
    if (c !== 0x3d) {
      out.push(c);
      continue;
    }
    if (i + 1 >= n) break; // a trailing '=' is a soft break at end of input
    const a = text.charCodeAt(i + 1);
    if (a === 10) {
      i += 1;
      continue;
    }
    if (a === 13 && text.charCodeAt(i + 2) === 10) {
      i += 2;
      continue;
    }
    const h = hexValue(a);
    const l = i + 2 < n ? hexValue(text.charCodeAt(i + 2)) : -1;
    if (h >= 0 && l >= 0) {
      out.push((h << 4) | l);
      i += 2;
    } else {
      out.push(0x3d);
    }
  }
  return Uint8Array.from(out);
}
