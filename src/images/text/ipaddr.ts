/**
 * IP addresses stored as CRIU stores them: u32 words in network byte order
 * (so the address bytes are each word's little-endian bytes), rendered the way
 * Python's `ipaddress` module prints them (crit's `(criu).ipadd`).
 */
import { JsonInputError } from "../errors.js";

function wordBytes(w: number): number[] {
  return [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, (w >>> 24) & 0xff];
}

export function formatIPv4(word: number): string {
  return wordBytes(word).join(".");
}

/** RFC 5952 text as Python 3.11 writes it: longest run (≥ 2) of zero groups becomes "::". */
export function formatIPv6(words: readonly number[]): string {
  const bytes = words.slice(0, 4).flatMap(wordBytes);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLen).join(":");
  return head + "::" + tail;
}

function parseIPv4Bytes(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    // Python rejects leading zeros (ambiguous octal) and empty parts.
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out.push(v);
  }
  return out;
}

function parseIPv6Bytes(text: string): number[] | undefined {
  let head = text;
  let v4: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const parsed = parseIPv4Bytes(text.slice(lastColon + 1));
    if (!parsed) return undefined;
    v4 = parsed;
    head = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(halves[0]);
  const right = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (!left || !right) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - left.length - right.length;
    if (fill < 1) return undefined;
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  if (v4.length) bytes.splice(12, 4, ...v4);
  return bytes;
}

function bytesToWords(bytes: number[]): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    words.push((bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)) >>> 0);
  }
  return words;
}

/** Parses an IPv4 or IPv6 address into CRIU's words (1 or 4 of them). */
export function parseIpWords(text: string): number[] {
  const v4 = parseIPv4Bytes(text);
  if (v4) return bytesToWords(v4);
  const v6 = text.includes(":") ? parseIPv6Bytes(text) : undefined;
  if (v6) return bytesToWords(v6);
  throw new JsonInputError(`${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
}
