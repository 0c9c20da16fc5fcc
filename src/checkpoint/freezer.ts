/**
 * Keeps a process tree still while it is read, and lets it go at the end, on
 * every error path and on SIGINT/SIGTERM.
 *
 * With the cgroup v2 freezer when the tree is exactly one cgroup's content
 * (cgroup-freeze.ts: one write, forks included, a watchdog thaws it if crtool
 * dies); otherwise every thread is seized and interrupted with ptrace (no
 * signal the target can see). If crtool itself dies, the kernel detaches its
 * tracees and they run on: a crash cannot leave a target stopped.
 */
import { readFileSync } from "node:fs";
import { CrtoolError } from "../images/errors.js";
import { isErrno, ptraceDetach, ptraceInterrupt, ptraceSeize, waitTask, type WaitResult } from "../kernel/index.js";
import { onTerminate } from "../io/terminate.js";
import { faultPoint } from "../debug/hooks.js";
import { discoverTree, sameTree, NoSuchProcessError, type TreeProcess } from "./process-tree.js";
import { CgroupFreeze, CgroupFreezerError, usableCgroup } from "./cgroup-freeze.js";

/** How to freeze: the cgroup v2 freezer when usable ("auto"), only it, or only ptrace. */
export type FreezerMode = "auto" | "cgroup" | "ptrace";

const SIGSTOP = 19;
const SIGTRAP = 5;
const PTRACE_EVENT_STOP = 128;
const STOP_TIMEOUT_MS = 10_000;
/** How long release() waits for a task that was interrupted but had not stopped yet. */
const SETTLE_MS = 1_000;

/** Not allowed to trace the target: says which rule applies. */
export class PermissionError extends CrtoolError {
  readonly code = "PERMISSION";
}

function ptraceScope(): string {
  try {
    return readFileSync("/proc/sys/kernel/yama/ptrace_scope", "utf8").trim();
  } catch {
    return "unknown";
  }
}

/** The process tracing task `tid` already (a debugger, strace, another dump), with its name: undefined if none. */
function tracerOf(tid: number): string | undefined {
  try {
    const tracer = Number(/^TracerPid:\s+(\d+)/m.exec(readFileSync(`/proc/${tid}/status`, "latin1"))?.[1] ?? 0);
    if (tracer === 0) return undefined;
    let comm = "";
    try {
      comm = ` (${readFileSync(`/proc/${tracer}/comm`, "latin1").trim()})`;
    } catch {
      // Gone meanwhile: its pid still says who it was.
    }
    return `process ${tracer}${comm}`;
  } catch {
    return undefined;
  }
}

function permissionError(pid: number, tid: number): PermissionError {
  const tracer = tracerOf(tid);
  if (tracer) return new PermissionError(`cannot trace process ${pid} (task ${tid}): it is already traced by ${tracer}; a task has one tracer at a time`);
  const root = process.getuid?.() === 0;
  const why = root
    ? `even as root (another tracer, TracerPid in /proc/${tid}/status, or an LSM may forbid it)`
    : `crtool needs CAP_SYS_PTRACE (run as root), or the same user as the target with kernel.yama.ptrace_scope=0 (it is ${ptraceScope()})`;
  return new PermissionError(`not permitted to trace process ${pid} (task ${tid}): ${why}`);
}

export class Freezer {
  /** Seized tasks, with a signal that arrived while stopping it (re-sent on release). */
  private readonly seized = new Map<number, number>();
  /** The processes (thread-group ids) of the seized tasks. */
  private readonly processes = new Set<number>();
  private readonly unregister: () => void;
  private released = false;
  private cgroup: CgroupFreeze | undefined;

  constructor(
    private readonly log: (m: string) => void = () => {},
    private readonly mode: FreezerMode = "auto",
  ) {
    this.unregister = onTerminate(() => this.release(false));
  }

  /** What froze the tree: "cgroup" (and which) or "ptrace". */
  get method(): { kind: "cgroup"; dir: string } | { kind: "ptrace" } {
    return this.cgroup ? { kind: "cgroup", dir: this.cgroup.dir } : { kind: "ptrace" };
  }

  /** Freezes through the tree's cgroup when usable; undefined when ptrace is to be used. */
  private freezeCgroup(root: number): TreeProcess[] | undefined {
    if (this.mode === "ptrace") return undefined;
    let usable: ReturnType<typeof usableCgroup>;
    try {
      usable = usableCgroup(root);
    } catch (e) {
      usable = { why: (e as Error).message };
    }
    try {
      if ("why" in usable) throw new CgroupFreezerError(usable.why);
      this.cgroup = CgroupFreeze.freeze(root, usable.dir);
    } catch (e) {
      if (!(e instanceof CgroupFreezerError)) throw e;
      if (this.mode === "cgroup") throw new CgroupFreezerError(`--freezer cgroup: ${e.message}`);
      this.log(`cgroup v2 freezer not used: ${e.message}; freezing with ptrace`);
      return undefined;
    }
    this.log(`froze ${this.cgroup.tree.length} process(es) with the cgroup v2 freezer (${this.cgroup.dir})`);
    return this.cgroup.tree;
  }

  /**
   * Stops the whole tree rooted at `root`. New threads or children created
   * while seizing are caught by listing the tree again until it is stable.
   */
  freeze(root: number): TreeProcess[] {
    const frozen = this.freezeCgroup(root);
    if (frozen) return frozen;
    let tree = discoverTree(root);
    for (let round = 0; round < 20; round++) {
      // Every task is interrupted before any is waited for: they stop side by side, not one after another.
      const stopping: [number, number][] = [];
      for (const p of tree) {
        if (p.zombie) continue;
        for (const tid of p.threads) if (!this.seized.has(tid) && this.interruptTask(p.pid, tid)) stopping.push([p.pid, tid]);
      }
      if (stopping.length > 0) faultPoint("stop-wait");
      for (const [pid, tid] of stopping) this.waitStopped(pid, tid);
      const again = discoverTree(root);
      if (sameTree(tree, again)) {
        this.log(`froze ${tree.length} process(es), ${this.seized.size} task(s)`);
        return again;
      }
      tree = again;
    }
    throw new TreeUnstableError(root);
  }

  /** Seizes and interrupts a task; false when it is gone (the next listing will tell). */
  private interruptTask(pid: number, tid: number): boolean {
    try {
      ptraceSeize(tid);
    } catch (e) {
      if (isErrno(e, "ESRCH")) return false;
      if (isErrno(e, "EPERM")) throw permissionError(pid, tid);
      throw e;
    }
    this.seized.set(tid, 0);
    this.processes.add(pid);
    try {
      ptraceInterrupt(tid);
    } catch (e) {
      if (isErrno(e, "ESRCH")) return false;
      throw e;
    }
    return true;
  }

  private waitStopped(pid: number, tid: number): void {
    const r: WaitResult | undefined = waitTask(tid, STOP_TIMEOUT_MS);
    if (!r) throw new StopTimeoutError(pid, tid);
    if (r.kind !== "stopped") {
      this.seized.delete(tid);
      if (tid === pid) throw new NoSuchProcessError(`process ${pid} exited during the dump`);
      return;
    }
    // A stop for a signal (not our interrupt) keeps that signal pending: deliver it on release.
    if (r.event !== PTRACE_EVENT_STOP && r.signal !== SIGSTOP && r.signal !== SIGTRAP) this.seized.set(tid, r.signal);
  }

  private detachOnceStopped(tid: number, signal: number): void {
    try {
      if (waitTask(tid, SETTLE_MS)?.kind === "stopped") ptraceDetach(tid, signal);
    } catch {
      // Gone meanwhile: nothing to undo.
    }
  }

  /** Lets every task run again (or leaves them stopped with SIGSTOP). Idempotent. */
  release(leaveStopped: boolean): void {
    if (this.released) return;
    this.released = true;
    if (this.cgroup) {
      const how = this.cgroup.release(leaveStopped);
      this.log(how === "thawed" ? `thawed ${this.cgroup.dir}` : `left ${this.cgroup.dir} frozen (thaw it with: echo 0 > ${this.cgroup.dir}/cgroup.freeze)`);
      this.unregister();
      return;
    }
    // A signal given to PTRACE_DETACH is dropped after an interrupt stop: to
    // leave the tree stopped, queue SIGSTOP first; it takes effect on release.
    if (leaveStopped) {
      for (const pid of this.processes) {
        try {
          process.kill(pid, "SIGSTOP");
        } catch {
          /* gone */
        }
      }
    }
    for (const [tid, pending] of this.seized) {
      try {
        ptraceDetach(tid, leaveStopped ? 0 : pending);
      } catch (e) {
        // Interrupted but not stopped yet (a freeze that failed while its tasks were stopping): PTRACE_DETACH
        // refuses a running tracee, which would stop a moment later and stay stopped as long as crtool lives.
        if (isErrno(e, "ESRCH")) this.detachOnceStopped(tid, leaveStopped ? 0 : pending);
        // Otherwise already gone, or already released by the kernel: nothing to undo.
      }
    }
    this.log(`${leaveStopped ? "left stopped" : "resumed"} ${this.seized.size} task(s)`);
    this.seized.clear();
    this.unregister();
  }
}

export class TreeUnstableError extends CrtoolError {
  readonly code = "TREE_UNSTABLE";
  constructor(root: number) {
    super(`the process tree of ${root} kept changing while it was being frozen`);
  }
}

export class StopTimeoutError extends CrtoolError {
  readonly code = "STOP_TIMEOUT";
  constructor(pid: number, tid: number) {
    super(`task ${tid} of process ${pid} did not stop within ${STOP_TIMEOUT_MS / 1000} s (stuck in the kernel?)`);
  }
}
