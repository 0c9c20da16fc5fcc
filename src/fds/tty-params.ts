/**
 * A tty's parameters read with ioctls on crtool's duplicate of the fd, in
 * the shape CRIU's tty.c stores them. These ioctls answer the same for any
 * process holding the file, except TIOCGSID/TIOCGPGRP on a slave side,
 * which the kernel answers only to processes whose controlling tty it is
 * (CRIU asks from inside the task; tty.ts reads /proc/PID/stat instead).
 */
import type { TermiosEntry, WinsizeEntry } from "../images/schema/types.js";
import { SyscallError, stableBuffer } from "../kernel/index.js";
import { ioctl, ioctlRaw } from "../kernel/index.js";

const TCGETS = 0x5401;
const TIOCGWINSZ = 0x5413;
const TIOCINQ = 0x541b;
const TIOCGLCKTRMIOS = 0x5456;
export const TIOCGSID = 0x5429;
export const TIOCGPGRP = 0x540f;
export const TIOCGPTN = 0x80045430;
export const TIOCGPKT = 0x80045438;
export const TIOCGPTLCK = 0x80045439;
export const TIOCGEXCL = 0x80045440;

const ENOTTY = 25;
const EIO = 5;

/** The kernel's struct termios: 4 u32 flags, c_line, c_cc[19]. */
const KERNEL_TERMIOS_SIZE = 36;
const KERNEL_NCCS = 19;
/** glibc's c_cc[32], which CRIU's ioctl fills and then memcpy()s into its c_cc words. */
const GLIBC_NCCS = 32;
/** TERMIOS_NCC: how many c_cc words CRIU writes. */
export const TERMIOS_NCC = 19;

/**
 * An int-returning tty "get" ioctl as CRIU's parasite_dump_tty reads it:
 * ENOTTY means 0, EIO means the tty is hung up (no pair), others throw.
 */
export function ttyGetInt(lfd: number, request: number): { value: number } | "hangup" {
  const b = stableBuffer(4);
  const r = ioctlRaw(lfd, request, b);
  if (r === -EIO) return "hangup";
  if (r === -ENOTTY) return { value: 0 };
  if (r < 0) throw new SyscallError({ syscall: "ioctl", errno: -r, detail: `fd ${lfd}, request 0x${request.toString(16)}` });
  return { value: b.readInt32LE(0) };
}

/**
 * termios_entry as CRIU writes it. CRIU copies glibc's 32-byte c_cc array
 * with memcpy into its array of 19 u32 words: words 0-7 hold the cc bytes
 * four by four (little-endian), and words 8-18 are never written — CRIU
 * leaves malloc garbage there; crtool writes 0. c_ispeed/c_ospeed are never
 * set (TCGETS has no speeds): 0. The restore copies the same 32 bytes back.
 */
export function termiosEntry(raw: Uint8Array): TermiosEntry {
  const v = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const cc = Buffer.alloc(GLIBC_NCCS);
  cc.set(v.subarray(17, 17 + KERNEL_NCCS));
  const words: number[] = [];
  for (let i = 0; i < TERMIOS_NCC; i++) words.push(i * 4 < GLIBC_NCCS ? cc.readUInt32LE(i * 4) : 0);
  return {
    c_iflag: v.readUInt32LE(0),
    c_oflag: v.readUInt32LE(4),
    c_cflag: v.readUInt32LE(8),
    c_lflag: v.readUInt32LE(12),
    c_line: v[16],
    c_ispeed: 0,
    c_ospeed: 0,
    c_cc: words,
  };
}

export function readTermios(lfd: number, locked: boolean): TermiosEntry {
  const b = stableBuffer(KERNEL_TERMIOS_SIZE);
  ioctl(lfd, locked ? TIOCGLCKTRMIOS : TCGETS, b);
  return termiosEntry(b);
}

export function readWinsize(lfd: number): WinsizeEntry {
  const b = stableBuffer(8);
  ioctl(lfd, TIOCGWINSZ, b);
  return { ws_row: b.readUInt16LE(0), ws_col: b.readUInt16LE(2), ws_xpixel: b.readUInt16LE(4), ws_ypixel: b.readUInt16LE(6) };
}

/** Bytes waiting to be read on this side of the tty (0 when the tty cannot say). */
export function queuedInput(lfd: number): number {
  const b = stableBuffer(4);
  return ioctlRaw(lfd, TIOCINQ, b) < 0 ? 0 : b.readInt32LE(0);
}
