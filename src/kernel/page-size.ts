/**
 * The kernel's page size (4 KiB on x86_64, 4/16/64 KiB on aarch64), from
 * the AT_PAGESZ entry of /proc/self/auxv: Node has no sysconf.
 */
import { readFileSync } from "node:fs";

const AT_PAGESZ = 6n;
let cached: number | undefined;

export function pageSize(): number {
  if (cached !== undefined) return cached;
  const auxv = readFileSync("/proc/self/auxv");
  for (let off = 0; off + 16 <= auxv.length; off += 16) {
    const type = auxv.readBigUInt64LE(off);
    if (type === 0n) break;
    if (type === AT_PAGESZ) return (cached = Number(auxv.readBigUInt64LE(off + 8)));
  }
  return (cached = 4096);
}
