/**
 * /proc/PID/mountinfo, for what the fd kinds need from mounts: the file
 * system type under an fd (btrfs device quirk, pseudo file systems whose
 * files must not be read), and the mounts of a superblock (to turn an
 * inotify/fanotify file handle back into a path).
 */
import type { DumpContext } from "../contract/dump-context.js";
import { readMountinfo, type Mount } from "../kernel/index.js";
import { perDump } from "./per-dump.js";

export { parseMountinfo, readMountinfo, type Mount } from "../kernel/index.js";

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
