/**
 * /proc/PID/mountinfo, for what the fd kinds need from mounts: the file
 * system type under an fd (btrfs device quirk, pseudo file systems whose
 * files must not be read), and the mounts of a superblock (to turn an
 * inotify/fanotify file handle back into a path).
 */
import { readFileSync } from "node:fs";
import type { DumpContext } from "../checkpoint/dump-context.js";
import { ProcfsParseError } from "../kernel/index.js";
import { kdev } from "./dev.js";
import { perDump } from "./per-dump.js";

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

/** The mounts of `pid`, read once per dump. */
export function mountsOf(ctx: DumpContext, pid: number): Mount[] {
  return perDump(ctx, `mountinfo:${pid}`, () => readMountinfo(pid));
}

/**
 * File systems whose files crtool must not read for validation data: reads
 * there can have side effects or block (CRIU maps the file instead, which
 * these refuse).
 */
const PSEUDO_FS = new Set([
  "proc", "sysfs", "debugfs", "tracefs", "securityfs", "configfs", "efivarfs", "pstore", "fusectl",
  "bpf", "cgroup", "cgroup2", "devpts", "mqueue", "hugetlbfs", "binfmt_misc", "autofs", "rpc_pipefs",
]);

export function isPseudoFs(fsType: string | undefined): boolean {
  return fsType !== undefined && PSEUDO_FS.has(fsType);
}
