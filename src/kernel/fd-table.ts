/**
 * crtool's own fd table. The kernel grows a process's table by doubling it,
 * and when the process has several threads (Node always has) each growth
 * waits for an RCU grace period, ~10 ms here: opening 10,000 fds one by one
 * pays that a dozen times. Growing it once to the size a dump or restore
 * will need pays it once.
 */
import { closeSync, openSync, readFileSync, readdirSync } from "node:fs";
import { F_DUPFD, fcntl, rawSyscallAsync, syscallNumbers } from "./libc.js";
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
  const highest = highestNeeded(count);
  if (highest === undefined) return;
  try {
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

/** The fd number whose slot makes room for `count` more fds; undefined when the table need not grow first. */
function highestNeeded(count: number): number | undefined {
  if (count < 128) return undefined;
  try {
    // The count Linux gives the directory (no listing); a listing where it gives none.
    const open = openFdCount("self") ?? readdirSync("/proc/self/fd").length;
    const limit = openFileLimit() ?? Number.MAX_SAFE_INTEGER;
    const highest = Math.min(limit - 1, open + count + 64);
    return highest < 256 ? undefined : highest;
  } catch {
    return undefined;
  }
}

/**
 * reserveFds on a thread of libuv's pool: the grace period the growth waits
 * for passes while this thread goes on with work that opens no fd (any fd
 * allocation of the process waits for the growth to end). Resolves when the
 * table has grown, or when it could not (best effort: never rejects).
 */
export async function reserveFdsInBackground(count: number): Promise<void> {
  const highest = highestNeeded(count);
  if (highest === undefined) return;
  let probe: number;
  try {
    probe = openSync("/dev/null", "r");
  } catch {
    return;
  }
  try {
    const dup = await rawSyscallAsync(syscallNumbers().fcntl, probe, F_DUPFD, highest);
    if (dup >= 0) closeSync(dup);
  } catch {
    // The table grows on demand instead.
  } finally {
    closeSync(probe);
  }
}
