/**
 * Base64 as Python's `base64.encodebytes` writes it (a "\n" after every 76
 * output characters and after the last line) and a strict reader for it.
 */
import { JsonInputError } from "../errors.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ENC = new Uint8Array(64);
for (let i = 0; i < 64; i++) ENC[i] = ALPHABET.charCodeAt(i);
const DEC = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) DEC[ALPHABET.charCodeAt(i)] = i;

/** Bytes of input per output line (76 characters). */
export const BASE64_LINE_BYTES = 57;

const decoder = new TextDecoder("latin1");

/**
 * `base64.encodebytes(data).decode()`. `data` should be a whole number of
 * 57-byte lines unless it is the last piece, so that callers can stream.
 */
export function encodeBase64Lines(data: Uint8Array): string {
  const n = data.length;
  if (n === 0) return "";
  const lines = Math.ceil(n / BASE64_LINE_BYTES);
  const out = new Uint8Array(Math.ceil(n / 3) * 4 + lines);
  let o = 0;
  let col = 0;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out[o++] = ENC[v >> 18];
    out[o++] = ENC[(v >> 12) & 63];
    out[o++] = ENC[(v >> 6) & 63];
    out[o++] = ENC[v & 63];
    col += 4;
    if (col === 76) {
      out[o++] = 10;
      col = 0;
    }
  }
  const rest = n - i;
  if (rest > 0) {
    const v = (data[i] << 16) | (rest === 2 ? data[i + 1] << 8 : 0);
    out[o++] = ENC[v >> 18];
    out[o++] = ENC[(v >> 12) & 63];
    out[o++] = rest === 2 ? ENC[(v >> 6) & 63] : 61;
    out[o++] = 61;
    col += 4;
  }
  if (col > 0) out[o++] = 10;
  return decoder.decode(out.subarray(0, o));
}

/**
 * Decodes standard base64, ignoring line breaks and spaces (as Python's
 * `decodebytes` does), but refusing any other character, misplaced padding
 * or a length that is not a whole number of quads: a typo in hand-edited JSON
 * must not silently become different bytes.
 */
export function decodeBase64(text: string, what = "base64 value"): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  let o = 0;
  let acc = 0;
  let bits = 0;
  let quad = 0;
  let pad = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13 || c === 32 || c === 9) continue;
    if (c === 61) {
      // '=' may only end the data: one or two of them completing a quad.
      pad++;
      quad++;
      if (quad % 4 === 0) {
        for (let j = i + 1; j < text.length; j++) {
          const d = text.charCodeAt(j);
          if (d !== 10 && d !== 13 && d !== 32 && d !== 9) throw new JsonInputError(`invalid ${what}: data after '=' padding`);
        }
        break;
      }
      continue;
    }
    const v = c < 128 ? DEC[c] : -1;
    if (v < 0) throw new JsonInputError(`invalid ${what}: character ${JSON.stringify(text[i])} at position ${i} is not base64`);
    if (pad > 0) throw new JsonInputError(`invalid ${what}: data after '=' padding`);
    acc = (acc << 6) | v;
    bits += 6;
    quad++;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (quad % 4 !== 0) throw new JsonInputError(`invalid ${what}: length is not a multiple of 4 characters`);
  if (pad > 2) throw new JsonInputError(`invalid ${what}: too much '=' padding`);
  return out.slice(0, o);
}

/**
 * Incremental `decodeBase64` for text that arrives in pieces (a payload too
 * large to hold as one string). Same strictness: padding only at the end.
 */
export class Base64StreamDecoder {
  private carry = "";
  private ended = false;

  constructor(private readonly what = "base64 value") {}

  feed(text: string): Uint8Array {
    const clean = this.carry + text.replace(/[\n\r\t ]+/g, "");
    if (clean.length === 0) return new Uint8Array(0);
    if (this.ended) throw new JsonInputError(`invalid ${this.what}: data after '=' padding`);
    if (clean.includes("=")) {
      // Padding ends the data: what remains must decode as a whole.
      this.ended = true;
      this.carry = "";
      return decodeBase64(clean, this.what);
    }
    const whole = clean.length - (clean.length % 4);
    this.carry = clean.slice(whole);
    return decodeBase64(clean.slice(0, whole), this.what);
  }

  finish(): void {
    if (this.carry.length) throw new JsonInputError(`invalid ${this.what}: length is not a multiple of 4 characters`);
  }
}
