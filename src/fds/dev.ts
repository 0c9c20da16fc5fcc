/**
 * Device numbers. Node's stat (like glibc) gives a dev_t in the userspace
 * encoding (12-bit major split around the minor); the kernel prints, and
 * CRIU stores for superblocks (ghost files, inotify/fanotify s_dev), the
 * kernel encoding major << 20 | minor; other fields (tty rdev/dev) hold the
 * userspace value cut to 32 bits, as CRIU assigns st_rdev to a uint32.
 */
import { kdev } from "../kernel/index.js";

export function major(dev: bigint): number {
  return Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
}

export function minor(dev: bigint): number {
  return Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
}

export { kdev };

/** A userspace dev_t in the kernel encoding. */
export function kdevOf(dev: bigint): number {
  return kdev(major(dev), minor(dev));
}

/** A userspace dev_t stored in a uint32 field (C's implicit truncation). */
export function dev32(dev: bigint): number {
  return Number(dev & 0xffffffffn);
}
