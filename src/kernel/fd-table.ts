/**
 * crtool's own fd table. The kernel grows a process's table by doubling it,
 * and when the process has several threads (Node always has) each growth
 * waits for an RCU grace period, ~10 ms here: opening 10,000 fds one by one
 * pays that a dozen times. Growing it once to the size a dump or restore
 * will need pays it once.
 */
import { closeSync, openSync, readFileSync, readdirSync } from "node:fs";
import { F_DUPFD, fcntl } from "./libc.js";
import { openFdCount } from "./procfs.js";

/** The soft RLIMIT_NOFILE, from /proc/self/limits; undefined if unlimited or unreadable. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Makes room for `count` more fds in one growth of the table (best effort: never throws). */
export function reserveFds(count: number): void {
  if (count < 128) return;
  try {
    // The count Linux gives the directory (no listing); a listing where it gives none.
    const open = openFdCount("self") ?? readdirSync("/proc/self/fd").length;
    const limit = openFileLimit() ?? Number.MAX_SAFE_INTEGER;
    const highest = Math.min(limit - 1, open + count + 64);
    if (highest < 256) return;
    const probe = openSync("/dev/null", "r");
    try {
      closeSync(fcntl(probe, F_DUPFD, highest));
    } finally {
      closeSync(probe);
    }
  } catch {
    // The table grows on demand instead.
  }
}
