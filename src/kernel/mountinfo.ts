/**
 * /proc/PID/mountinfo, parsed: what the fd kinds need from mounts (file
 * system types, superblock devices, mount points) and where the cgroup v2
 * hierarchy is mounted.
 */
import { readFileSync } from "node:fs";
import { ProcfsParseError } from "./errors.js";

/** CRIU's MKKDEV(major, minor): the kernel's s_dev encoding (major << 20 | minor), as a u32, as mountinfo and fdinfo print it. */
export function kdev(majorNo: number, minorNo: number): number {
  return ((majorNo << 20) | (minorNo & 0xfffff)) >>> 0;
}

export interface Mount {
  mountId: number;
  parentId: number;
  /** The superblock's device in the kernel encoding (major << 20 | minor), as fdinfo sdev prints it. */
  sdev: number;
  /** Path of the mount's root inside its file system. */
  root: string;
  /** Where it is mounted, as the reading process sees it. */
  mountPoint: string;
  fsType: string;
  source: string;
}

/** The kernel escapes space, tab, newline and backslash as \ooo in these fields. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

// "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    const dev = /^(\d+):(\d+)$/.exec(f[2] ?? "");
    if (f.length < 10 || sep < 0 || sep + 2 >= f.length || !dev) {
      throw new ProcfsParseError(`mountinfo line not understood: ${JSON.stringify(line)}`);
    }
    out.push({
      mountId: Number(f[0]),
      parentId: Number(f[1]),
      sdev: kdev(Number(dev[1]), Number(dev[2])),
      root: unescape(f[3]),
      mountPoint: unescape(f[4]),
      fsType: f[sep + 1],
      source: unescape(f[sep + 2]),
    });
  }
  return out;
}

export function readMountinfo(pid: number | "self"): Mount[] {
  return parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, "utf8"));
}

