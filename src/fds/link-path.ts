/**
 * The path of an fd as CRIU writes it: the bytes of its /proc link, minus
 * the " (deleted)" the kernel appends to unlinked files, as a string when
 * they are UTF-8 and as InvalidUtf8 (kept byte for byte) when not.
 */
import { InvalidUtf8 } from "../images/wire/message.js";

const DELETED = Buffer.from(" (deleted)");
const strict = new TextDecoder("utf-8", { fatal: true });

export function stripDeleted(bytes: Uint8Array): Uint8Array {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return b.length >= DELETED.length && b.subarray(b.length - DELETED.length).equals(DELETED) ? bytes.subarray(0, b.length - DELETED.length) : bytes;
}

export function pathField(bytes: Uint8Array): string | InvalidUtf8 {
  try {
    return strict.decode(bytes);
  } catch {
    return new InvalidUtf8(Uint8Array.from(bytes));
  }
}

/** The other way: a path field's bytes, for opening it on restore. */
export function pathBytes(name: string | InvalidUtf8): Uint8Array {
  return name instanceof InvalidUtf8 ? name.bytes : Buffer.from(name, "utf8");
}

/** The bytes as a Node path argument (Buffer paths pass non-UTF-8 names through). */
export function fsPath(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}
