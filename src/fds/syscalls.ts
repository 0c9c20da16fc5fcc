/**
 * System calls the fd kinds need that src/kernel does not wrap yet: lseek
 * (SEEK_DATA/SEEK_HOLE for sparse contents), ioctl (ttys), open_by_handle_at
 * (inotify/fanotify watch paths) and memfd_create (to learn the shmem
 * device). Thin wrappers over src/kernel's rawSyscall/check, meant to move
 * into src/kernel as they are.
 */
import { addressOf, check, rawSyscall, stableBuffer } from "../kernel/index.js";
import { NotSupportedError } from "../images/errors.js";

interface Numbers {
  lseek: number;
  ioctl: number;
  open_by_handle_at: number;
  memfd_create: number;
}

const X86_64: Numbers = { lseek: 8, ioctl: 16, open_by_handle_at: 304, memfd_create: 319 };
const AARCH64: Numbers = { lseek: 62, ioctl: 29, open_by_handle_at: 265, memfd_create: 279 };

function nr(): Numbers {
  if (process.arch === "x64") return X86_64;
  if (process.arch === "arm64") return AARCH64;
  throw new NotSupportedError(`crtool's fd kinds support x86_64 and aarch64, not ${process.arch}`);
}

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

/** memfd_create(2) with MFD_CLOEXEC. */
export function memfdCreate(name: string): number {
  const bytes = Buffer.from(name, "utf8");
  const cname = stableBuffer(bytes.length + 1);
  cname.set(bytes);
  const MFD_CLOEXEC = 1;
  return check(rawSyscall(nr().memfd_create, addressOf(cname), MFD_CLOEXEC), "memfd_create", name);
}
