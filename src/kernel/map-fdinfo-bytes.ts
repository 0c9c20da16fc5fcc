/**
 * A BPF map's fdinfo read from the bytes the kernel wrote, by one regular
 * expression: a dump of ten thousand maps reads ten thousand of these, and
 * most of them are read before V8 has optimised anything. A loop over the
 * bytes costs ~40 µs a file until then (~1 µs after); the expression runs
 * as native code from the first call (~3 µs, then ~0.7).
 *
 * Only the kernel's own layout is taken, each value in a range a double
 * holds exactly. Anything else (another kind of file, another kernel's
 * lines, a value out of range) gives undefined, and the caller parses the
 * text with parseFdinfo, whose results these agree with
 * (test/kernel/map-fdinfo-bytes.test.ts).
 */
import type { BpfMapFdinfo } from "./fdinfo.js";

export interface MapFdinfoBytes {
  pos: bigint;
  /** open(2) flags, O_CLOEXEC included (as the fd flag). */
  flags: number;
  mntId: number;
  map: BpfMapFdinfo;
}

// ino, map_extra and frozen are absent on older kernels. Decimals of at most 15 digits, octal 16 and hex 12: below 2^50.
const MAP_FDINFO =
  /^pos:\t(\d{1,15})\nflags:\t([0-7]{1,16})\nmnt_id:\t(\d{1,15})\n(?:ino:\t\d{1,20}\n)?map_type:\t(\d{1,15})\nkey_size:\t(\d{1,15})\nvalue_size:\t(\d{1,15})\nmax_entries:\t(\d{1,15})\nmap_flags:\t0x([0-9a-f]{1,12})\n(?:map_extra:\t0x([0-9a-f]{1,12})\n)?memlock:\t(\d{1,15})\nmap_id:\t(\d{1,15})\n(?:frozen:\t(\d{1,15})\n)?$/;

/** The fdinfo in bytes [0, len) of `b` when it is a BPF map's as the kernel lays it out; else undefined (parse the text). */
export function parseMapFdinfoBytes(b: Buffer, len: number): MapFdinfoBytes | undefined {
  const m = MAP_FDINFO.exec(b.toString("latin1", 0, len));
  if (!m) return undefined;
  const extra = m[9] === undefined ? 0 : parseInt(m[9], 16);
  return {
    pos: m[1] === "0" ? 0n : BigInt(m[1]),
    flags: parseInt(m[2], 8),
    mntId: Number(m[3]),
    map: {
      mapType: Number(m[4]),
      keySize: Number(m[5]),
      valueSize: Number(m[6]),
      maxEntries: Number(m[7]),
      mapFlags: parseInt(m[8], 16),
      mapExtra: extra === 0 ? 0n : BigInt(extra),
      memlock: Number(m[10]),
      mapId: Number(m[11]),
      frozen: m[12] !== undefined && Number(m[12]) !== 0,
      ownerProgType: undefined,
      ownerJited: undefined,
    },
  };
}
