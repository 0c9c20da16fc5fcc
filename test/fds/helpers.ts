/**
 * Shared by the fd-kind tests: compiling C workloads, running them, building
 * TaskFds from /proc, a DumpContext over an ImageSet (plus raw pages images),
 * dumping fds the way the orchestrator will, and reading the images back.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageSet } from "../../src/checkpoint/image-set.js";
import { createDumpContext, emptyStats, type DumpSlot, type DumpStats, type ImageSink, type SkippedFile } from "../../src/contract/dump-context.js";
import type { MagicName } from "../../src/images/magic.js";
import type { ImageMessage } from "../../src/images/wire/message.js";
import { decodeImage, toCritJson } from "../../src/images/index.js";
import { O_CLOEXEC, close, grabFd, parseFdLink, readFdLinkBytes, readFdinfo, sameOpenFile } from "../../src/kernel/index.js";
import { FD_TYPE_NUMBERS, type FdKind, type TaskFd } from "../../src/contract/fd-kind.js";
import type { DumpContext, RawImage } from "../../src/contract/dump-context.js";

import { FIXTURES } from "../helpers/fixtures.js";

export const IS_ROOT = process.getuid?.() === 0;
export const HAVE_GCC = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;
export const HAVE_CRIT = spawnSync("crit", ["--help"], { stdio: "ignore" }).status === 0;

export { FIXTURES };
export const ZOO = join(FIXTURES, "fds-zoo");
export const HAVE_ZOO = existsSync(join(ZOO, "src", "fds_zoo.c"));

/** Why a live test cannot run here, or undefined (printed once per reason). */
export function skipReason(): string | undefined {
  if (!IS_ROOT) return "not running as root (pidfd_getfd and kcmp on other processes need it)";
  if (!HAVE_GCC) return "gcc is not installed (the workloads are C programs compiled at test time)";
  return undefined;
}

const warned = new Set<string>();
export function warnOnce(msg: string): void {
  if (!warned.has(msg)) console.warn(msg);
  warned.add(msg);
}

/** A scratch directory removed by cleanup(). */
export function scratch(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `crtool-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Compiles one C file into `dir`; returns the binary's path. */
export function compile(source: string, dir: string, name: string): string {
  const out = join(dir, name);
  const r = spawnSync("gcc", ["-O2", "-Wall", "-o", out, source], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`gcc ${source} failed: ${r.stderr}`);
  return out;
}

/** A running workload: started in `cwd` with a ready file, killed by pid in stop(). */
export class Workload {
  readonly child: ChildProcess;
  readonly pid: number;
  private constructor(child: ChildProcess, readonly info: string) {
    this.child = child;
    this.pid = child.pid!;
  }

  /**
   * Starts `binary READY_FILE` in `cwd` and waits for it to write READY_FILE.
   * stdin, stdout and stderr are one open file of /dev/null (O_RDWR), as the
   * fds-zoo fixture was started; the workload reports errors in its exit code.
   */
  static async start(binary: string, cwd: string, readyFile: string, timeoutMs = 10_000, args: string[] = []): Promise<Workload> {
    const devNull = openSync("/dev/null", "r+");
    let child: ChildProcess;
    try {
      // detached: a new session, so the workload may take a controlling tty of its own.
      child = spawn(binary, [readyFile, ...args], { cwd, stdio: [devNull, devNull, devNull], detached: true });
    } finally {
      closeSync(devNull);
    }
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(readyFile)) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`workload exited early: code ${child.exitCode}, signal ${child.signalCode}`);
      if (Date.now() > deadline) {
        process.kill(child.pid!, "SIGKILL");
        throw new Error(`workload never became ready`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return new Workload(child, readFileSync(readyFile, "utf8"));
  }

  /** The value of `key=` in the ready file (first match). */
  value(key: string): string {
    const m = new RegExp(`(?:^|\\s)${key}=(\\S+)`, "m").exec(this.info);
    if (!m) throw new Error(`no ${key}= in workload info:\n${this.info}`);
    return m[1];
  }

  num(key: string): number {
    return Number(this.value(key));
  }

  /** Kills the workload and every process it started (by pid; children would outlive it otherwise). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once("exit", r));
    for (const pid of [this.pid, ...descendants(this.pid)]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    await gone;
  }
}

/** The processes below `pid` (children, theirs...), from /proc/PID/task/TID/children. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let children = "";
      try {
        children = readFileSync(`/proc/${p}/task/${tid}/children`, "utf8");
      } catch {
        continue;
      }
      for (const c of children.split(" ").filter(Boolean).map(Number)) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}

/**
 * The DumpContext the orchestrator will provide, over an ImageSet in a
 * temp dir, with raw pages images for memfd contents.
 */
export class TestDumpContext implements DumpContext {
  readonly images: ImageSet;
  readonly options = { skipUnsupported: false, verbose: false };
  readonly stats: DumpStats = emptyStats();
  readonly logs: string[] = [];
  readonly spoolDir: string;
  private readonly grabbed = new Map<string, number>();
  private nextFileId = 1;
  private nextPagesId = 1;
  private readonly rawFds: number[] = [];

  constructor(readonly dir: string) {
    this.images = new ImageSet(dir);
    this.spoolDir = dir;
  }

  grab(fd: TaskFd): number {
    return this.grabPidFd(fd.pid, fd.fd);
  }

  /** crtool's duplicate of fd `fd` of `pid`, taken once. */
  grabPidFd(pid: number, fd: number): number {
    const key = `${pid}:${fd}`;
    let mine = this.grabbed.get(key);
    if (mine === undefined) {
      mine = grabFd(pid, fd);
      this.grabbed.set(key, mine);
    }
    return mine;
  }

  image(fileName: string, magic: MagicName): ImageSink {
    return this.images.image(fileName, magic);
  }

  newFileId(): number {
    return this.nextFileId++;
  }

  // The per-dump memos, files.img, skips and slots, as every DumpContext has them.
  private readonly base: DumpContext = createDumpContext({
    options: this.options,
    stats: this.stats,
    grab: (fd) => this.grab(fd),
    image: (name, magic) => this.image(name, magic),
    pagesImage: () => this.pagesImage(),
    newFileId: () => this.newFileId(),
    spoolDir: undefined,
    log: (m) => this.logs.push(m),
  });

  addFile(entry: ImageMessage): void {
    this.base.addFile(entry);
  }

  slot<T>(slot: DumpSlot<T>): T | undefined {
    return this.base.slot(slot);
  }

  firstTime(kind: string, id: number): boolean {
    return this.base.firstTime(kind, id);
  }

  once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.base.once(key, fn);
  }

  log(message: string): void {
    this.base.log(message);
  }

  skip(file: SkippedFile, message?: string): void {
    this.base.skip(file, message);
  }

  pagesImage(): RawImage {
    const id = this.nextPagesId++;
    const fd = openSync(join(this.dir, `pages-${id}.img`), "wx", 0o600);
    this.rawFds.push(fd);
    return {
      id,
      write: (bytes: Uint8Array) => {
        for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      },
    };
  }

  /** Closes grabbed fds and image files. */
  close(): void {
    for (const fd of this.grabbed.values()) close(fd);
    this.grabbed.clear();
    for (const fd of this.rawFds.splice(0)) closeSync(fd);
    this.images.closeAll();
  }
}

/** The TaskFd the orchestrator builds: /proc link, fdinfo, and fstat of our duplicate. */
export function taskFd(ctx: TestDumpContext, pid: number, fd: number): TaskFd {
  const linkBytes = readFdLinkBytes(pid, fd);
  const fdinfo = readFdinfo(pid, fd);
  const st = fstatSync(ctx.grabPidFd(pid, fd), { bigint: true });
  return {
    pid,
    fd,
    link: parseFdLink(linkBytes.toString()),
    linkBytes: Uint8Array.from(linkBytes),
    fdinfo,
    cloexec: (fdinfo.flags & O_CLOEXEC) !== 0,
    stat: { dev: st.dev, ino: st.ino, mode: Number(st.mode), rdev: st.rdev, size: st.size, nlink: Number(st.nlink) },
  };
}

export interface Dumped {
  id: number;
  kind: FdKind;
  entry: ImageMessage;
}

/**
 * Dumps fds of `pid` as the orchestrator will: one id per open file (fds
 * sharing one, by kcmp, share the id and are dumped once), each file entry
 * appended to files.img after its kind's dump. Returns fd → result.
 */
export async function dumpFds(ctx: TestDumpContext, pid: number, fds: number[], kinds: readonly FdKind[]): Promise<Map<number, Dumped>> {
  const out = new Map<number, Dumped>();
  for (const fd of fds) {
    const shared = [...out.keys()].find((other) => sameOpenFile(pid, other, pid, fd));
    if (shared !== undefined) {
      out.set(fd, out.get(shared)!);
      continue;
    }
    const t = taskFd(ctx, pid, fd);
    const kind = kinds.find((k) => k.detect(t));
    if (!kind) throw new Error(`no kind for fd ${fd} (${t.link.kind})`);
    const id = ctx.newFileId();
    const entry = await kind.dump(t, id, ctx);
    ctx.addFile({ type: FD_TYPE_NUMBERS[kind.type], id, [kind.field]: entry });
    out.set(fd, { id, kind, entry });
  }
  return out;
}

/** Every entry of an image the test wrote. */
export async function entriesOf(dir: string, name: string): Promise<ImageMessage[]> {
  const { entries } = await decodeImage(readFileSync(join(dir, name)), name);
  return entries.map((e) => e.message);
}

export interface CritDocument {
  magic: string;
  entries: Record<string, unknown>[];
}

/** crtool's own `crit decode --pretty` of an image the test wrote. */
export async function critJson(dir: string, name: string): Promise<CritDocument> {
  return JSON.parse(await toCritJson(readFileSync(join(dir, name)), { pretty: true, name })) as CritDocument;
}

/**
 * Debian's crit (CRIU 3.17) decoding an image: null with a printed reason
 * when crit is missing. CRIU's own tool must read what crtool writes.
 */
export function debianCrit(dir: string, name: string): CritDocument | null {
  if (!HAVE_CRIT) {
    warnOnce("skipping Debian crit cross-checks: crit is not installed");
    return null;
  }
  const r = spawnSync("crit", ["decode", "-i", join(dir, name)], { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`crit decode ${name} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as CritDocument;
}
