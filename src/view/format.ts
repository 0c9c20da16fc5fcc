/** Numbers as people read them in the page. */

export { byteSize as sizeText } from "../images/text/byte-size.js";

export function hexAddress(a: bigint): string {
  return `0x${a.toString(16)}`;
}

// open(2) flags as x86-64 Linux defines them (what CRIU records in a file's flags).
const OPEN_FLAGS: [number, string][] = [
  [0o2000, "O_APPEND"],
  [0o4000, "O_NONBLOCK"],
  [0o10000, "O_DSYNC"],
  [0o20000, "O_ASYNC"],
  [0o40000, "O_DIRECT"],
  [0o100000, "O_LARGEFILE"],
  [0o200000, "O_DIRECTORY"],
  [0o400000, "O_NOFOLLOW"],
  [0o1000000, "O_NOATIME"],
  [0o2000000, "O_CLOEXEC"],
  [0o4000000, "O_SYNC"],
  [0o10000000, "O_PATH"],
];

export function openFlagsText(flags: number | undefined): string {
  if (flags === undefined) return "";
  const access = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][flags & 3];
  const rest = OPEN_FLAGS.filter(([bit]) => flags & bit && !(bit === 0o10000 && flags & 0o4000000)).map(([, n]) => n);
  return [access, ...rest].join("|");
}

export function protText(prot: number): string {
  return `${prot & 1 ? "r" : "-"}${prot & 2 ? "w" : "-"}${prot & 4 ? "x" : "-"}`;
}
