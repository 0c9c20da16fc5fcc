/**
 * The cgroup v2 freezer: writing 1 to a cgroup's cgroup.freeze stops every
 * task in it and its descendants at once (no fork can slip through, no
 * signal or ptrace stop the tasks can see); cgroup.events says when the
 * whole subtree is frozen.
 *
 * Unlike a ptrace stop, a frozen cgroup stays frozen if crtool dies. A
 * watchdog guards against that: a small detached shell holding the read end
 * of a pipe whose write end only crtool has. When crtool ends without saying
 * "keep" (a crash, SIGKILL), the pipe reads EOF and the shell thaws the
 * cgroup.
 */
import { createRequire } from "node:module";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { close, pipe2, write, O_CLOEXEC } from "./libc.js";
import { sleepSync } from "./ptrace.js";
import { readMountinfo, type Mount } from "./mountinfo.js";

/** Where the cgroup v2 hierarchy is mounted (the first mount of its root), or undefined. */
export function cgroup2Mount(mounts: Mount[] = readMountinfo("self")): string | undefined {
  return mounts.find((m) => m.fsType === "cgroup2" && m.root === "/")?.mountPoint;
}

/** The process's cgroup v2 path ("0::/a/b" → "/a/b"), or undefined if it has none. */
export function cgroup2PathOf(pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) if (line.startsWith("0::")) return line.slice(3);
  return undefined;
}

/** Every process in the cgroup at `dir` and in the cgroups below it. */
export function cgroupProcesses(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (l) out.push(Number(l));
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  return out;
}

/** True when cgroup.events says the cgroup at `dir` is frozen. */
export function cgroupFrozen(dir: string): boolean {
  return /^frozen 1$/m.test(readFileSync(join(dir, "cgroup.events"), "utf8"));
}

/** Writes cgroup.freeze and waits (blocking) until cgroup.events agrees; false on timeout. */
export function setCgroupFrozen(dir: string, frozen: boolean, timeoutMs: number): boolean {
  writeFileSync(join(dir, "cgroup.freeze"), frozen ? "1" : "0");
  const deadline = Date.now() + timeoutMs;
  for (let pause = 0.1; ; pause = Math.min(pause * 2, 10)) {
    if (cgroupFrozen(dir) === frozen) return true;
    if (Date.now() >= deadline) return false;
    sleepSync(pause);
  }
}

/** Thaws the cgroup at `dir` if crtool dies before `dismiss` is called. */
export class ThawWatchdog {
  private writeEnd: number | undefined;
  readonly pid: number;

  constructor(dir: string) {
    const [readEnd, writeEnd] = pipe2(O_CLOEXEC);
    try {
      // A session of its own: a ^C meant for crtool must not take the watchdog with it.
      // node:child_process is loaded only here: a dump that freezes with ptrace does not pay for it.
      const { spawn } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
      const child = spawn("/bin/sh", ["-c", 'read -r word; [ "$word" = keep ] || echo 0 > "$1"', "crtool-thaw", join(dir, "cgroup.freeze")], {
        stdio: [readEnd, "ignore", "ignore"],
        detached: true,
      });
      child.on("error", () => {});
      child.unref();
      this.pid = child.pid ?? 0;
    } finally {
      close(readEnd);
    }
    this.writeEnd = writeEnd;
  }

  /** crtool has thawed (or means to leave frozen) the cgroup itself: the watchdog exits doing nothing. */
  dismiss(): void {
    if (this.writeEnd === undefined) return;
    try {
      write(this.writeEnd, Buffer.from("keep\n"));
    } finally {
      close(this.writeEnd);
      this.writeEnd = undefined;
    }
  }
}
