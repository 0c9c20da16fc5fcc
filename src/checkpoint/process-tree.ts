/**
 * The tree `-t PID` names, as CRIU takes it: the process, its threads and
 * all its descendants, parents before children.
 */
import { existsSync } from "node:fs";
import { CrtoolError } from "../images/errors.js";
import { listTasks, readChildren, readStat, readStatus, type ProcStatus } from "../kernel/index.js";

export interface TreeProcess {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** Thread ids, the main thread first. */
  threads: number[];
  status: ProcStatus;
  /** Exited but not reaped: nothing but its exit state is left to dump. */
  zombie: boolean;
}

/** No such process, or it vanished while we looked. */
export class NoSuchProcessError extends CrtoolError {
  readonly code = "NO_SUCH_PROCESS";
}

/** The tree to dump holds crtool's own process: it cannot stop itself, and would wait on itself if it could. */
export class DumpsItselfError extends CrtoolError {
  readonly code = "DUMPS_ITSELF";
}

function gone(pid: number): NoSuchProcessError {
  return new NoSuchProcessError(`process ${pid} does not exist (or exited during the dump)`);
}

function readProcess(pid: number, ppid: number | undefined): TreeProcess {
  try {
    const status = readStatus(pid);
    const stat = readStat(pid);
    const zombie = status.state === "Z" || status.state === "X";
    const tasks = zombie ? [pid] : listTasks(pid);
    const threads = [pid, ...tasks.filter((t) => t !== pid)];
    return { pid, ppid: ppid ?? 0, pgid: stat.pgrp, sid: stat.session, threads, status, zombie };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ESRCH") throw gone(pid);
    throw e;
  }
}

function childrenOf(p: TreeProcess): number[] {
  if (p.zombie) return [];
  const out: number[] = [];
  for (const tid of p.threads) {
    try {
      for (const c of readChildren(p.pid, tid)) if (!out.includes(c)) out.push(c);
    } catch (e) {
      // A thread that exited meanwhile has no children left to report.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
  return out.sort((a, b) => a - b);
}

/** Lists the tree rooted at `root`, depth first (the order of CRIU's pstree.img). */
export function discoverTree(root: number): TreeProcess[] {
  if (!Number.isInteger(root) || root <= 0) throw new NoSuchProcessError(`${root} is not a process id`);
  if (!existsSync(`/proc/${root}`)) throw gone(root);
  if (root === process.pid) throw new DumpsItselfError("crtool cannot dump itself");
  const out: TreeProcess[] = [];
  const visit = (pid: number, ppid: number | undefined) => {
    // Run from a shell inside the tree (`crtool dump -t $$`): found before anything is stopped.
    if (pid === process.pid) throw new DumpsItselfError(`process ${root}'s tree holds crtool itself (process ${pid}): run crtool from outside the tree it dumps`);
    const p = readProcess(pid, ppid);
    out.push(p);
    for (const c of childrenOf(p)) visit(c, pid);
  };
  visit(root, undefined);
  return out;
}

/** The same tree again: true if no process or thread appeared or vanished. */
export function sameTree(a: TreeProcess[], b: TreeProcess[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((p, i) => p.pid === b[i].pid && p.threads.join() === b[i].threads.join() && p.zombie === b[i].zombie);
}
