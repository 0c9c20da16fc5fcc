/**
 * The one place that loads libc with koffi. Every system call goes through
 * libc's syscall() declared with a fixed signature (the variadic declaration
 * costs ~100 ns more per call). Pointers travel as plain numbers: the address
 * of a Buffer, taken right before the call, or cached for buffers that never
 * move (see stableBuffer).
 *
 * libc itself is loaded on first use, and only this file imports koffi:
 * fdinfo.ts, procfs.ts and errors.ts import no native code.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type koffiApi from "koffi";
import type { LibraryHandle } from "koffi";
import { NotSupportedError, SyscallError } from "./errors.js";
import { syscallNumbersFor, type SyscallNumbers } from "./syscall-numbers.js";

type Sys4 = (nr: number, a: number, b: number, c: number) => number;
type Sys6 = (nr: number, a: number, b: number, c: number, d: number, e: number) => number;
type Sys7 = (nr: number, a: number, b: number, c: number, d: number, e: number, f: number) => number;
type AsyncCallback = (err: unknown, result: number) => void;

interface Bindings {
  sys4: Sys4;
  sys4Async: (nr: number, a: number, b: number, c: number, cb: AsyncCallback) => void;
  sys6: Sys6;
  sys7: Sys7;
  nr: SyscallNumbers;
}

type Koffi = typeof koffiApi;

let koffi: Koffi;
let bound: Bindings | undefined;
/** Where koffi's addon was loaded from, when it was loaded by its path (see loadKoffi). */
let addonPath: string | undefined;

/**
 * The path of the koffi addon this thread loaded directly, if it did: a
 * worker thread can load the same file without koffi's entry, whose
 * platform detection costs a new thread 5–15 ms.
 */
export function koffiAddonPath(): string | undefined {
  koffi ??= loadKoffi();
  return addonPath;
}

/**
 * koffi's native module. Its package entry first finds the C library Node
 * was built against by reading Node's ELF headers, and resolving the two
 * packages by name walks node_modules: ~9 ms of every command's start-up.
 * On glibc Linux the addon is loaded by its path in koffi's platform package
 * beside koffi (crtool's own node_modules, or the one crtool is installed
 * in), after the same version check koffi makes; when that fails (another
 * libc, another layout, another version) koffi's own entry does it all.
 */
function loadKoffi(): Koffi {
  const require = createRequire(import.meta.url);
  if (process.platform === "linux" && (process.arch === "x64" || process.arch === "arm64")) {
    // This file is <package>/dist/kernel/libc.js (or src/kernel/libc.ts).
    const own = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
    for (const modules of [join(own, "node_modules"), dirname(own)]) {
      try {
        const path = join(modules, "@koromix", `koffi-linux-${process.arch}`, `linux_${process.arch}`, "koffi.node");
        const native = require(path) as Koffi & { version?: string };
        const { version } = JSON.parse(readFileSync(join(modules, "koffi", "package.json"), "utf8")) as { version: string };
        if (native.version === version) {
          addonPath = path;
          return native;
        }
      } catch {
        // Not there, or not loadable here.
      }
    }
  }
  return require("koffi") as Koffi;
}

function bindings(): Bindings {
  if (bound) return bound;
  koffi ??= loadKoffi();
  const nr = syscallNumbersFor(process.platform, process.arch);
  let lib: LibraryHandle;
  try {
    lib = koffi.load("libc.so.6");
  } catch (e) {
    throw new NotSupportedError(`cannot load glibc (libc.so.6): ${(e as Error).message}`);
  }
  const f4 = lib.func("long syscall(long, long, long, long)");
  const f6 = lib.func("long syscall(long, long, long, long, long, long)");
  const f7 = lib.func("long syscall(long, long, long, long, long, long, long)");
  bound = {
    sys4: f4 as Sys4,
    sys4Async: f4.async as Bindings["sys4Async"],
    sys6: f6 as Sys6,
    sys7: f7 as Sys7,
    nr,
  };
  return bound;
}

/** The syscall numbers of the running architecture. */
export function syscallNumbers(): SyscallNumbers {
  return bindings().nr;
}

/** syscall(nr, a, b, c): the result, or -errno. Never throws for a kernel error. */
export function rawSyscall(nr: number, a = 0, b = 0, c = 0): number {
  const r = bindings().sys4(nr, a, b, c);
  return r === -1 ? -koffi.errno() : r;
}

/** Five-argument form (kcmp, pidfd_send_signal). */
export function rawSyscall6(nr: number, a = 0, b = 0, c = 0, d = 0, e = 0): number {
  const r = bindings().sys6(nr, a, b, c, d, e);
  return r === -1 ? -koffi.errno() : r;
}

/** Six-argument form (mmap). */
export function rawSyscall7(nr: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0): number {
  const r = bindings().sys7(nr, a, b, c, d, e, f);
  return r === -1 ? -koffi.errno() : r;
}

/** The little-endian u64 at `address` of crtool's own memory (a page it mapped). */
export function peekU64(address: number): bigint {
  bindings();
  return BigInt(koffi.decode(BigInt(address), "uint64") as number | bigint);
}

/**
 * rawSyscall on a koffi worker thread: the event loop keeps running during a
 * long kernel operation. Whatever the pointers point to must stay referenced
 * by the caller until the promise settles.
 */
export function rawSyscallAsync(nr: number, a = 0, b = 0, c = 0): Promise<number> {
  const { sys4Async } = bindings();
  return new Promise((resolve, reject) => {
    sys4Async(nr, a, b, c, (err, r) => {
      // koffi restores the worker's errno on this thread for the callback.
      if (err) reject(err);
      else resolve(r === -1 ? -koffi.errno() : r);
    });
  });
}

/** Throws a SyscallError when `r` is -errno; returns `r` otherwise. */
export function check(r: number, syscall: string, detail?: string, operation?: string): number {
  if (r < 0) throw new SyscallError({ syscall, errno: -r, detail, operation });
  return r;
}

/**
 * A zeroed Buffer whose bytes live outside the V8 heap, so its address never
 * changes and can be cached (small Buffer.alloc() results may live on the
 * heap and move until their address is first taken).
 */
export function stableBuffer(size: number): Buffer {
  return Buffer.from(new ArrayBuffer(size));
}

/** The address of the first byte of `buf` (0 for an empty view, which the kernel reads as NULL). */
export function addressOf(buf: Uint8Array): number {
  if (buf.byteLength === 0) return 0;
  koffi ??= loadKoffi();
  return Number(koffi.address(buf));
}

/** A NUL-terminated copy of a path or name for the kernel. */
export function cString(s: string | Uint8Array): Buffer {
  const bytes = typeof s === "string" ? Buffer.from(s, "utf8") : s;
  if (bytes.includes(0)) throw new TypeError("a C string cannot contain a NUL byte");
  const out = stableBuffer(bytes.length + 1);
  out.set(bytes);
  return out;
}

// Flags shared by x86_64 and aarch64 (asm-generic values).
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const F_ADD_SEALS = 1033;
export const F_GET_SEALS = 1034;
export const FD_CLOEXEC = 1;
export const SPLICE_F_NONBLOCK = 2;

/** kcmp(2) comparison types. */
export const KCMP = {
  FILE: 0,
  VM: 1,
  FILES: 2,
  FS: 3,
  SIGHAND: 4,
  IO: 5,
  SYSVSEM: 6,
  EPOLL_TFD: 7,
} as const;

export function close(fd: number): void {
  check(rawSyscall(bindings().nr.close, fd), "close", `fd ${fd}`);
}

export function dup(fd: number): number {
  return check(rawSyscall(bindings().nr.dup, fd), "dup", `fd ${fd}`);
}

/** dup3(oldFd, newFd, flags): flags may be O_CLOEXEC. */
export function dup3(oldFd: number, newFd: number, flags = 0): number {
  return check(rawSyscall(bindings().nr.dup3, oldFd, newFd, flags), "dup3", `fd ${oldFd} -> ${newFd}`);
}

/** fcntl with an integer argument (F_GETFL, F_SETFD, F_GET_SEALS...). */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  return check(rawSyscall(bindings().nr.fcntl, fd, cmd, arg), "fcntl", `fd ${fd}, cmd ${cmd}`);
}

/** read(2) into buf[offset, offset+length); returns the byte count (0 at end of file). */
export function read(fd: number, buf: Uint8Array, offset = 0, length = buf.byteLength - offset): number {
  checkRange(buf, offset, length);
  const r = rawSyscall(bindings().nr.read, fd, length === 0 ? 0 : addressOf(buf) + offset, length);
  return check(r, "read", `fd ${fd}`);
}

/** write(2) from buf[offset, offset+length); returns the byte count written. */
export function write(fd: number, buf: Uint8Array, offset = 0, length = buf.byteLength - offset): number {
  checkRange(buf, offset, length);
  const r = rawSyscall(bindings().nr.write, fd, length === 0 ? 0 : addressOf(buf) + offset, length);
  return check(r, "write", `fd ${fd}`);
}

/** pipe2(flags) → [readFd, writeFd]. */
export function pipe2(flags = 0): [number, number] {
  const fds = stableBuffer(8);
  check(rawSyscall(bindings().nr.pipe2, addressOf(fds), flags), "pipe2");
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

/** tee(2): copies up to `length` bytes between pipes without consuming them. */
export function tee(fdIn: number, fdOut: number, length: number, flags = 0): number {
  return check(rawSyscall6(bindings().nr.tee, fdIn, fdOut, length, flags), "tee", `fd ${fdIn} -> ${fdOut}`);
}

/**
 * kcmp(2): 0 when equal, 1 or 2 for an ordering, 3 when merely different.
 * Needs ptrace access to both processes (root, or same user without Yama).
 */
export function kcmp(pid1: number, pid2: number, type: number, idx1 = 0, idx2 = 0): number {
  const r = rawSyscall6(bindings().nr.kcmp, pid1, pid2, type, idx1, idx2);
  return check(r, "kcmp", `pids ${pid1}/${pid2}, type ${type}`);
}

/** True when fd1 in pid1 and fd2 in pid2 are the same open file description. */
export function sameOpenFile(pid1: number, fd1: number, pid2: number, fd2: number): boolean {
  return kcmp(pid1, pid2, KCMP.FILE, fd1, fd2) === 0;
}

export function getpid(): number {
  return rawSyscall(bindings().nr.getpid);
}

export function gettid(): number {
  return rawSyscall(bindings().nr.gettid);
}

function checkRange(buf: Uint8Array, offset: number, length: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > buf.byteLength) {
    throw new RangeError(`range [${offset}, ${offset}+${length}) is outside a ${buf.byteLength}-byte buffer`);
  }
}
