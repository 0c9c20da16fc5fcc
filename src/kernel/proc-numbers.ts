/**
 * Strict number readers for /proc text: the whole string must be a number
 * in the stated base, or ProcfsParseError (parseInt would accept "12abc").
 */
import { ProcfsParseError } from "./errors.js";

/** A decimal that fits a JS number exactly (64-bit fields use dec64). */
export function dec(s: string): number {
  if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw new ProcfsParseError(`expected a decimal number below 2^53, got ${JSON.stringify(s)}`);
  }
  return Number(s);
}

export function dec64(s: string): bigint {
  if (!/^-?\d+$/.test(s)) throw new ProcfsParseError(`expected a decimal number, got ${JSON.stringify(s)}`);
  return BigInt(s);
}

export function oct(s: string): number {
  if (!/^[0-7]+$/.test(s)) throw new ProcfsParseError(`expected an octal number, got ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

/** Hex with or without "0x" (the kernel prints %#x of 0 as "0x0", glibc as "0"). */
export function hexStr(s: string): number {
  const digits = s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
  if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length > 13) {
    throw new ProcfsParseError(`expected a hexadecimal number, got ${JSON.stringify(s)}`);
  }
  return parseInt(digits, 16);
}

export function hex64(s: string): bigint {
  const digits = s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
  if (!/^[0-9a-fA-F]+$/.test(digits)) throw new ProcfsParseError(`expected a hexadecimal number, got ${JSON.stringify(s)}`);
  return BigInt(`0x${digits}`);
}
