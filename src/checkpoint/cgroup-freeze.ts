/**
 * Freezing a process tree with the cgroup v2 freezer, when the tree is
 * exactly what one cgroup (with its descendants) holds: a container, a
 * systemd unit, a cgroup made for the job. Then one write stops every task
 * at once, forks included, and the tasks see no signal and no tracer.
 *
 * A cgroup that also holds processes outside the tree, or a tree spread over
 * several cgroups, is not "usable": freezing it would stop bystanders or
 * miss tasks, so the caller falls back to ptrace (or, with --freezer cgroup,
 * reports why). A cgroup that was already frozen is read as it is and left
 * frozen.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CrtoolError } from "../images/errors.js";
import { ThawWatchdog, cgroup2Mount, cgroup2PathOf, cgroupFrozen, cgroupProcesses, setCgroupFrozen } from "../kernel/index.js";
import { discoverTree, type TreeProcess } from "./process-tree.js";

const FREEZE_TIMEOUT_MS = 10_000;

/** --freezer cgroup, and the tree's cgroup cannot be used: says why. */
export class CgroupFreezerError extends CrtoolError {
  readonly code = "CGROUP_FREEZER";
}

/** Why the cgroup of `root` cannot freeze exactly `tree`, or undefined when it can. */
function mismatch(dir: string, tree: TreeProcess[]): string | undefined {
  const inCgroup = new Set(cgroupProcesses(dir));
  const inTree = new Set(tree.filter((p) => !p.zombie).map((p) => p.pid));
  for (const pid of inCgroup) if (!inTree.has(pid)) return `cgroup ${dir} also holds process ${pid}, which is not in the dumped tree`;
  for (const pid of inTree) {
    if (!inCgroup.has(pid)) return `process ${pid} of the tree is in another cgroup (${cgroup2PathOf(pid) ?? "none"})`;
  }
  return undefined;
}

/** The cgroup directory that holds exactly the tree of `root`, or why there is none. */
export function usableCgroup(root: number): { dir: string } | { why: string } {
  // The process's own line first: a process in no cgroup or the root one needs no mount table read.
  const path = cgroup2PathOf(root);
  if (path === undefined) return { why: `process ${root} has no cgroup v2 path` };
  if (path === "/") return { why: `process ${root} is in the root cgroup, which cannot be frozen` };
  const mount = cgroup2Mount();
  if (!mount) return { why: "no cgroup v2 hierarchy is mounted" };
  const dir = join(mount, path);
  if (!existsSync(join(dir, "cgroup.freeze"))) return { why: `${dir} has no cgroup.freeze` };
  const why = mismatch(dir, discoverTree(root));
  return why ? { why } : { dir };
}

/** A tree frozen through its cgroup; `release` thaws it (or leaves it frozen). */
export class CgroupFreeze {
  private released = false;
  private constructor(
    readonly dir: string,
    readonly tree: TreeProcess[],
    private readonly wasFrozen: boolean,
    private readonly watchdog: ThawWatchdog | undefined,
  ) {}

  /** Freezes `dir` and lists the tree again; throws CgroupFreezerError (having thawed) if it no longer matches. */
  static freeze(root: number, dir: string): CgroupFreeze {
    const wasFrozen = cgroupFrozen(dir);
    let watchdog: ThawWatchdog | undefined;
    if (!wasFrozen) {
      watchdog = new ThawWatchdog(dir);
      let ok = false;
      try {
        ok = setCgroupFrozen(dir, true, FREEZE_TIMEOUT_MS);
      } catch (e) {
        thaw(dir, watchdog);
        throw new CgroupFreezerError(`cannot freeze ${dir}: ${(e as Error).message}`);
      }
      if (!ok) {
        thaw(dir, watchdog);
        throw new CgroupFreezerError(`${dir} did not freeze within ${FREEZE_TIMEOUT_MS / 1000} s`);
      }
    }
    const tree = discoverTree(root);
    const why = mismatch(dir, tree);
    if (why) {
      if (!wasFrozen) thaw(dir, watchdog);
      throw new CgroupFreezerError(`the tree changed while ${dir} was being frozen: ${why}`);
    }
    return new CgroupFreeze(dir, tree, wasFrozen, watchdog);
  }

  /** Thaws the cgroup, unless it was frozen before crtool came or `leaveFrozen`. Idempotent. */
  release(leaveFrozen: boolean): "thawed" | "left frozen" {
    if (this.released) return "left frozen";
    this.released = true;
    if (leaveFrozen || this.wasFrozen) {
      this.watchdog?.dismiss();
      return "left frozen";
    }
    thaw(this.dir, this.watchdog);
    return "thawed";
  }
}

function thaw(dir: string, watchdog: ThawWatchdog | undefined): void {
  try {
    setCgroupFrozen(dir, false, FREEZE_TIMEOUT_MS);
  } finally {
    // Thawed, or crtool could not: either way the watchdog would do no better now.
    watchdog?.dismiss();
  }
}
