/**
 * System calls the fd kinds use: lseek
 * (SEEK_DATA/SEEK_HOLE for sparse contents), ioctl (ttys, inotify/timerfd
 * restore ioctls), open_by_handle_at (inotify/fanotify watch paths),
 * memfd_create, linkat (naming an O_TMPFILE ghost), and the calls that
 * create the anon-inode files on restore (eventfd2, timerfd_*, signalfd4,
 * epoll_*, inotify_*), plus clock_gettime for absolute timers. Node's fs
 * covers the rest (open, ftruncate, fchmod, fchown); utimensat
 * is here because Node's futimes takes seconds as a double and loses the
 * microseconds a ghost file's times are recorded in.
 */
import { F_GETFD, F_SETFD, FD_CLOEXEC, addressOf, cString, check, rawSyscall, rawSyscall6, stableBuffer, syscallNumbers } from "./libc.js";
import { listOpenFds } from "./fd-list.js";

const nr = syscallNumbers;

export const SEEK_SET = 0;
export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

/** lseek(2); returns the new offset. Only use on crtool's own open files, never on a grabbed fd (shared offset). */
export function lseek(fd: number, offset: number, whence: number): number {
  return check(rawSyscall(nr().lseek, fd, offset, whence), "lseek", `fd ${fd}, offset ${offset}, whence ${whence}`);
}

/** lseek(2) returning -errno instead of throwing (SEEK_DATA past the last data gives -ENXIO). */
export function lseekRaw(fd: number, offset: number, whence: number): number {
  return rawSyscall(nr().lseek, fd, offset, whence);
}

/** ioctl(2) with a pointer argument (`arg` is the buffer the kernel reads or fills). */
export function ioctl(fd: number, request: number, arg: Uint8Array, detail?: string): number {
  return check(rawSyscall(nr().ioctl, fd, request, addressOf(arg)), "ioctl", detail ?? `fd ${fd}, request 0x${request.toString(16)}`);
}

/** ioctl(2) returning -errno instead of throwing (ttys answer ENOTTY/EIO for states CRIU records as 0). */
export function ioctlRaw(fd: number, request: number, arg: Uint8Array): number {
  return rawSyscall(nr().ioctl, fd, request, addressOf(arg));
}

/** TCGETS: the same on x86_64 and aarch64 (asm-generic). */
const TCGETS = 0x5401;

/**
 * isatty(3): whether `fd` is a terminal. node:tty answers the same but loads
 * Node's net module (~6 ms of a command's start-up).
 */
export function isTerminal(fd: number): boolean {
  return ioctlRaw(fd, TCGETS, Buffer.alloc(64)) === 0;
}

/** ioctl(2) whose argument is a plain integer (INOTIFY_IOC_SETNEXTWD); returns -errno instead of throwing. */
export function ioctlValueRaw(fd: number, request: number, value: number): number {
  return rawSyscall(nr().ioctl, fd, request, value);
}

/**
 * open_by_handle_at(2): opens the file a struct file_handle names, on the
 * filesystem `mountFd` belongs to. Needs CAP_DAC_READ_SEARCH.
 */
export function openByHandleAt(mountFd: number, handleType: number, handle: Uint8Array, flags: number): number {
  // struct file_handle { u32 handle_bytes; int handle_type; unsigned char f_handle[]; }
  const fh = stableBuffer(8 + handle.length);
  fh.writeUInt32LE(handle.length, 0);
  fh.writeInt32LE(handleType, 4);
  fh.set(handle, 8);
  return check(rawSyscall(nr().open_by_handle_at, mountFd, addressOf(fh), flags), "open_by_handle_at", `mount fd ${mountFd}`);
}

export const MFD_CLOEXEC = 1;
export const MFD_ALLOW_SEALING = 2;

/** memfd_create(2); `flags` MFD_CLOEXEC by default. The name may be any bytes but NUL. */
export function memfdCreate(name: string | Uint8Array, flags = MFD_CLOEXEC): number {
  const cname = cString(name);
  return check(rawSyscall(nr().memfd_create, addressOf(cname), flags), "memfd_create", Buffer.from(name).toString());
}

const AT_FDCWD = -100;
export const AT_SYMLINK_FOLLOW = 0x400;

/** linkat(2) relative to the working directory (AT_SYMLINK_FOLLOW turns /proc/self/fd/N into a name for an O_TMPFILE file). */
export function linkat(oldPath: string | Uint8Array, newPath: string | Uint8Array, flags: number): void {
  const from = cString(oldPath);
  const to = cString(newPath);
  check(rawSyscall6(nr().linkat, AT_FDCWD, addressOf(from), AT_FDCWD, addressOf(to), flags), "linkat", `${Buffer.from(oldPath)} -> ${Buffer.from(newPath)}`);
}

/** clock_gettime(2) in nanoseconds. */
export function clockGettime(clockid: number): bigint {
  const ts = stableBuffer(16);
  check(rawSyscall(nr().clock_gettime, clockid, addressOf(ts)), "clock_gettime", `clock ${clockid}`);
  return ts.readBigInt64LE(0) * 1_000_000_000n + ts.readBigInt64LE(8);
}

/** eventfd2(2): `flags` EFD_CLOEXEC/EFD_NONBLOCK/EFD_SEMAPHORE. */
export function eventfd2(initval: number, flags: number): number {
  return check(rawSyscall(nr().eventfd2, initval, flags), "eventfd2");
}

/** A struct itimerspec's two times, in nanoseconds. */
export interface ItimerSpec {
  interval: bigint;
  value: bigint;
}

export function timerfdCreate(clockid: number, flags: number): number {
  return check(rawSyscall(nr().timerfd_create, clockid, flags), "timerfd_create", `clock ${clockid}`);
}

/** timerfd_settime(2); the old value is not asked for. */
export function timerfdSettime(fd: number, flags: number, spec: ItimerSpec): void {
  // struct itimerspec { struct timespec it_interval; struct timespec it_value; }
  const buf = stableBuffer(32);
  writeTimespec(buf, 0, spec.interval);
  writeTimespec(buf, 16, spec.value);
  check(rawSyscall6(nr().timerfd_settime, fd, flags, addressOf(buf), 0), "timerfd_settime", `fd ${fd}`);
}

export function timerfdGettime(fd: number): ItimerSpec {
  const buf = stableBuffer(32);
  check(rawSyscall(nr().timerfd_gettime, fd, addressOf(buf)), "timerfd_gettime", `fd ${fd}`);
  return { interval: readTimespec(buf, 0), value: readTimespec(buf, 16) };
}

function writeTimespec(buf: Buffer, off: number, ns: bigint): void {
  buf.writeBigInt64LE(ns / 1_000_000_000n, off);
  buf.writeBigInt64LE(ns % 1_000_000_000n, off + 8);
}

function readTimespec(buf: Buffer, off: number): bigint {
  return buf.readBigInt64LE(off) * 1_000_000_000n + buf.readBigInt64LE(off + 8);
}

/** signalfd4(2) creating a new signalfd (fd -1) for the 64-bit signal mask `mask`. */
export function signalfd4(mask: bigint, flags: number): number {
  const set = stableBuffer(8);
  set.writeBigUInt64LE(BigInt.asUintN(64, mask));
  return check(rawSyscall6(nr().signalfd4, -1, addressOf(set), 8, flags), "signalfd4");
}

export function epollCreate1(flags: number): number {
  return check(rawSyscall(nr().epoll_create1, flags), "epoll_create1");
}

export const EPOLL_CTL_ADD = 1;

/** epoll_ctl(2) returning -errno instead of throwing (callers tell EEXIST from real failures). */
export function epollCtlRaw(epfd: number, op: number, fd: number, events: number, data: bigint): number {
  // struct epoll_event { u32 events; u64 data; } is packed on x86_64 (12 bytes), naturally aligned elsewhere (16).
  const packed = process.arch === "x64";
  const ev = stableBuffer(16);
  ev.writeUInt32LE(events >>> 0, 0);
  ev.writeBigUInt64LE(BigInt.asUintN(64, data), packed ? 4 : 8);
  return rawSyscall6(nr().epoll_ctl, epfd, op, fd, addressOf(ev));
}

export function inotifyInit1(flags: number): number {
  return check(rawSyscall(nr().inotify_init1, flags), "inotify_init1");
}

/** inotify_add_watch(2); returns the watch descriptor. */
export function inotifyAddWatch(fd: number, path: string, mask: number): number {
  const p = cString(path);
  return check(rawSyscall(nr().inotify_add_watch, fd, addressOf(p), mask >>> 0), "inotify_add_watch", `${path}, mask 0x${(mask >>> 0).toString(16)}`);
}

export function inotifyRmWatch(fd: number, wd: number): void {
  check(rawSyscall(nr().inotify_rm_watch, fd, wd), "inotify_rm_watch", `wd ${wd}`);
}

/** utimensat(fd, NULL, times, 0): sets an open file's access and modification times, to the nanosecond. */
export function futimens(fd: number, atimeNs: bigint, mtimeNs: bigint): void {
  const times = stableBuffer(32);
  writeTimespec(times, 0, atimeNs);
  writeTimespec(times, 16, mtimeNs);
  check(rawSyscall6(nr().utimensat, fd, 0, addressOf(times), 0), "utimensat", `fd ${fd}`);
}

const CLOSE_RANGE_CLOEXEC = 1 << 2;

/**
 * FD_CLOEXEC on every fd of this process numbered `first` or more: fds
 * crtool was given open across exec (what its caller leaked) then stay out
 * of a command it starts, whose fd table is the restored one. One
 * close_range call (Linux 5.11), else fd by fd.
 */
export function closeOnExecFrom(first: number): void {
  if (rawSyscall(nr().close_range, first, 0xffffffff, CLOSE_RANGE_CLOEXEC) === 0) return;
  for (const fd of listOpenFds("self")) {
    if (fd < first) continue;
    const flags = rawSyscall(nr().fcntl, fd, F_GETFD, 0);
    // Negative: closed since the listing (the listing's own directory fd).
    if (flags >= 0 && (flags & FD_CLOEXEC) === 0) rawSyscall(nr().fcntl, fd, F_SETFD, flags | FD_CLOEXEC);
  }
}
