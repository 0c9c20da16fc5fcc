/**
 * open(2) flag bits as fdinfo `flags:` reports them. Most are the same on
 * x86_64 and aarch64, but O_DIRECT, O_LARGEFILE, O_DIRECTORY and O_NOFOLLOW
 * differ (aarch64 uses the asm-generic/arm values), and CRIU writes these
 * bits into images verbatim, so the kinds must test the right ones.
 */
import { O_CLOEXEC, O_NONBLOCK } from "./libc.js";

interface ArchFlags {
  O_DIRECT: number;
  O_LARGEFILE: number;
  O_DIRECTORY: number;
  O_NOFOLLOW: number;
}

const X86_64: ArchFlags = { O_DIRECT: 0o40000, O_LARGEFILE: 0o100000, O_DIRECTORY: 0o200000, O_NOFOLLOW: 0o400000 };
const AARCH64: ArchFlags = { O_DIRECT: 0o200000, O_LARGEFILE: 0o400000, O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000 };

const ARCH = process.arch === "arm64" ? AARCH64 : X86_64;

export const O_ACCMODE = 0o3;
export const O_RDONLY = 0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
/** pidfds use it as PIDFD_THREAD. */
export const O_EXCL = 0o200;
export const O_APPEND = 0o2000;
export const O_PATH = 0o10000000;
export const O_DIRECT = ARCH.O_DIRECT;
export const O_LARGEFILE = ARCH.O_LARGEFILE;
export const O_DIRECTORY = ARCH.O_DIRECTORY;
export const O_NOFOLLOW = ARCH.O_NOFOLLOW;
export { O_CLOEXEC, O_NONBLOCK };

/**
 * The open file's flags as CRIU records them: fdinfo `flags` without
 * O_CLOEXEC, which the kernel adds there from the fd's FD_CLOEXEC (a
 * property of the descriptor, saved in fdinfo-N.img, not of the file).
 */
export function fileFlags(fdinfoFlags: number): number {
  return (fdinfoFlags & ~O_CLOEXEC) >>> 0;
}
