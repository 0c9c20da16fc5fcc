/**
 * Starting the restored command with what only it can set on its own fds:
 * FD_CLOEXEC (exec would close such fds, so they cross the exec without it
 * and get it back right after) and epoll items registered under its fd
 * numbers (an item is keyed by the number it was added with, and crtool
 * cannot add one under a number its own table uses for something else).
 *
 * The command is started through `/bin/sh -c 'kill -STOP $$ && exec "$@"'`:
 * the shell stops itself, crtool seizes it with ptrace, lets it exec, and at
 * the exit of that execve (new program loaded, not one instruction run)
 * makes the fcntl and epoll_ctl calls inside it (src/kernel/remote-syscalls).
 * If crtool may not trace it (no CAP_SYS_PTRACE, Yama, seccomp) or the
 * architecture has no implementation, the command still starts: the epoll
 * items are added under crtool's numbers and FD_CLOEXEC is left off, both
 * said on stderr (docs/COMPAT.md).
 */
import type { ChildProcess, StdioOptions } from "node:child_process";
import { createRequire } from "node:module";
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { CrtoolError } from "../images/errors.js";
import { fsReason } from "../io/fs-reason.js";
import { faultPoint, plainPath } from "../debug/hooks.js";
import { F_SETFD, FD_CLOEXEC, RemoteSyscalls, check, catchExec, isErrno, remoteSyscallsSupported, syscallNumbers, waitSelfStopped } from "../kernel/index.js";

const EPOLL_CTL_ADD = 1;
const STOP_TIMEOUT_MS = 10_000;

export class LaunchError extends CrtoolError {
  readonly code = "LAUNCH";
}

/** An epoll item to add in the command, under its own fd numbers. */
export interface DeferredEpollItem {
  /** The command's fd number of the epoll. */
  epfd: number;
  /** The command's fd number the item was added with. */
  tfd: number;
  events: number;
  data: bigint;
  /** Adds the item from crtool instead (under a number crtool has), when the command cannot be traced. */
  addFromCrtool(): void;
}

export interface LaunchPlan {
  command: string[];
  stdio: StdioOptions;
  env: NodeJS.ProcessEnv;
  /** The command's fd numbers that get FD_CLOEXEC. */
  cloexec: number[];
  epollItems: DeferredEpollItem[];
  warn: (message: string) => void;
  log: (message: string) => void;
}

/** Where execvp would find `name`; undefined if nowhere. */
function findExecutable(name: string, path = process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"): string | undefined {
  const candidates = name.includes("/") ? [name] : path.split(delimiter).map((d) => join(d || ".", name));
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) {
        accessSync(c, fsConstants.X_OK);
        return c;
      }
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Why `name` cannot be run, as execvp would fail on it: a path is looked at; a bare name was in no PATH directory. */
function whyNotRunnable(name: string): string {
  if (!name.includes("/")) return "no such command";
  let st;
  try {
    st = statSync(name);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? "no such file" : fsReason(e);
  }
  if (st.isDirectory()) return "is a directory";
  if (!st.isFile()) return "not a regular file";
  return "not executable (permission denied)";
}

/** A set-ID executable and no root: an unprivileged tracer makes its exec drop the privilege. */
function setIdWithoutRoot(path: string): boolean {
  if (process.getuid?.() === 0) return false;
  try {
    return (statSync(path).mode & 0o6000) !== 0;
  } catch {
    return false;
  }
}

function started(child: ChildProcess, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (e) => reject(new LaunchError(`cannot run ${name}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such command" : e.message}`)));
  });
}

/** Starts the command with its fds as planned; resolves once it runs. */
export async function launch(plan: LaunchPlan): Promise<ChildProcess> {
  // Loaded here, not with the module: a restore that only pins maps never starts a command (node:child_process and the net and stream modules it loads cost ~9 ms of start-up).
  const { spawn } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
  const [name, ...args] = plan.command;
  const found = findExecutable(name, plan.env.PATH);
  if (!found) throw new LaunchError(`cannot run ${name}: ${whyNotRunnable(name)}`);
  const needsFixes = plan.cloexec.length > 0 || plan.epollItems.length > 0;
  const untraceable = !remoteSyscallsSupported()
    ? `this architecture (${process.arch}) has no implementation of system calls in another process`
    : plainPath("launch-trace") ? "tracing the command is switched off (CRTOOL_PLAIN=launch-trace)"
    : setIdWithoutRoot(found) ? `${name} is set-user-ID or set-group-ID and crtool is not root (traced, it would run without that privilege)`
    : undefined;
  if (!needsFixes || untraceable) {
    if (needsFixes) fallBack(plan, untraceable!);
    const child = spawn(name, args, { stdio: plan.stdio, env: plan.env });
    await started(child, name);
    return child;
  }
  // A name starting with "-" would read as an option of the shell's exec: give it by its path.
  const execName = !name.startsWith("-") ? name : found.startsWith("-") ? `./${found}` : found;
  const child = spawn("/bin/sh", ["-c", 'kill -STOP $$ && exec "$@"', "crtool-exec", execName, ...args], { stdio: plan.stdio, env: plan.env });
  await started(child, "/bin/sh");
  const pid = child.pid!;
  // From here to the detach nothing may yield to the event loop (see catchExec).
  if (!waitSelfStopped(pid, STOP_TIMEOUT_MS)) {
    child.kill("SIGKILL");
    throw new LaunchError(`cannot run ${name}: the shell that starts it (pid ${pid}) did not stop itself`);
  }
  try {
    catchExec(pid, STOP_TIMEOUT_MS);
  } catch (e) {
    if (isErrno(e, "EPERM")) {
      fallBack(plan, `crtool may not trace the command (${(e as Error).message})`);
      process.kill(pid, "SIGCONT");
      return child;
    }
    child.kill("SIGKILL");
    throw new LaunchError(`cannot run ${name}: ${(e as Error).message} (a shell error above may say why)`);
  }
  let remote: RemoteSyscalls | undefined;
  try {
    remote = new RemoteSyscalls(pid);
    faultPoint("exec-fixup");
    fixInside(remote, plan);
    remote.finish();
  } catch (e) {
    remote?.abandon();
    child.kill("SIGKILL");
    throw e instanceof CrtoolError ? new LaunchError(`cannot set up ${name}'s fds: ${e.message}`) : e;
  }
  plan.log(`set FD_CLOEXEC on ${plan.cloexec.length} fd(s) and added ${plan.epollItems.length} epoll item(s) inside ${name} (pid ${pid})`);
  return child;
}

const CLOSE_RANGE_CLOEXEC = 1 << 2;
const ENOSYS = 38;
const EINVAL = 22;

/** Runs of consecutive fd numbers: [first, last] pairs. */
function runs(fds: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const fd of [...fds].sort((a, b) => a - b)) {
    const last = out.at(-1);
    if (last && fd === last[1] + 1) last[1] = fd;
    else out.push([fd, fd]);
  }
  return out;
}

function fixInside(remote: RemoteSyscalls, plan: LaunchPlan): void {
  const nr = syscallNumbers();
  // close_range(CLOSE_RANGE_CLOEXEC) sets the flag on a whole run of fds in one call (Linux 5.11):
  // restoring 10,000 maps would otherwise take 10,000 injected calls.
  for (const [first, last] of runs(plan.cloexec)) {
    const r = first === last ? -ENOSYS : remote.call(nr.close_range, first, last, CLOSE_RANGE_CLOEXEC);
    if (r === 0) continue;
    if (r !== -ENOSYS && r !== -EINVAL) check(r, "close_range", `CLOSE_RANGE_CLOEXEC on the command's fds ${first}-${last}`);
    for (let fd = first; fd <= last; fd++) {
      check(remote.call(nr.fcntl, fd, F_SETFD, FD_CLOEXEC), "fcntl", `F_SETFD FD_CLOEXEC on the command's fd ${fd}`);
    }
  }
  const event = Buffer.alloc(12); // struct epoll_event is packed on x86_64
  for (const item of plan.epollItems) {
    event.writeUInt32LE(item.events >>> 0, 0);
    event.writeBigUInt64LE(BigInt.asUintN(64, item.data), 4);
    check(remote.call(nr.epoll_ctl, item.epfd, EPOLL_CTL_ADD, item.tfd, remote.put(event)), "epoll_ctl", `EPOLL_CTL_ADD of the command's fd ${item.tfd} to its epoll fd ${item.epfd}`);
  }
}

function fallBack(plan: LaunchPlan, why: string): void {
  for (const item of plan.epollItems) item.addFromCrtool();
  const what = [
    plan.cloexec.length > 0 ? `fds ${plan.cloexec.join(",")} start without FD_CLOEXEC (CRTOOL_CLOEXEC_FDS lists them)` : "",
    plan.epollItems.length > 0 ? `${plan.epollItems.length} epoll item(s) are registered under crtool's fd numbers` : "",
  ].filter(Boolean);
  plan.warn(`${why}: ${what.join("; ")}`);
}
