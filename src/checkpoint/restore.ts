/**
 * `crtool restore`: re-create the fd table of one process of a dump (BPF
 * maps, files, pipes...) in crtool's own process, then start CMD with every
 * restored fd at its original number. All or nothing: any failure before
 * CMD starts undoes everything created.
 */
import { faultPoint, pausePoint } from "../debug/hooks.js";
import type { StdioOptions } from "node:child_process";
import { constants } from "node:os";
import { CrtoolError, NotSupportedError } from "../images/errors.js";
import type { ImageMessage } from "../images/wire/message.js";
import { close, closeOnExecFrom } from "../kernel/index.js";
import { kindOfEntry } from "../fds/index.js";
import { FD_TYPE_NUMBERS, isRestorable, type FdTypeName, type RestorableFdKind } from "../contract/fd-kind.js";
import { onTerminate } from "../io/terminate.js";
import { DumpImages } from "./dump-images.js";
import { MapRestoreSession, verifyRestoredMaps, type RestoredMap } from "../bpf/restore/index.js";
import { createRestoreContext, type DeferredEpoll, type RestoreContext, type RestoreOptions } from "../contract/restore-context.js";
import { launch, type DeferredEpollItem } from "./launch.js";

export interface RestoreRequest extends RestoreOptions {
  dir: string;
  /** The process whose fd table to restore; default: the dump's root task. */
  pid?: number;
  restoreStdio: boolean;
  /** Read every restored map back and compare it with the images. */
  verify?: boolean;
  /** Where each difference --verify finds is reported, one line each (the error names the first only). */
  onDifference?: (line: string) => void;
  log?: (message: string) => void;
}

/** --verify found the restored maps different from the images. */
export class VerifyError extends CrtoolError {
  readonly code = "VERIFY";
  constructor(readonly differences: string[]) {
    super(`--verify: ${differences.length} difference${differences.length === 1 ? "" : "s"} between the restored BPF maps and the images (first: ${differences[0]})`);
  }
}

export class RestoreError extends CrtoolError {
  readonly code: string = "RESTORE";
}

const TYPE_NAMES = new Map<number, FdTypeName>(Object.entries(FD_TYPE_NUMBERS).map(([k, v]) => [v, k as FdTypeName]));

/** A restored fd table, held by crtool until it is handed to a process (or rolled back). */
export interface RestoredTable {
  pid: number;
  /** Target fd number → crtool's fd. */
  fds: Map<number, number>;
  /** Target fd number → its kind ("REG", "BPFMAP", "btf"...). */
  kinds: Map<number, string>;
  /** The BPF maps re-created, inner maps first. */
  maps: readonly RestoredMap[];
  /** --verify was asked for and found every map equal to its image. */
  verified: boolean;
  /** Target fd numbers that had FD_CLOEXEC. */
  cloexec: Set<number>;
  /** Epoll items to add inside the command under its own fd numbers. */
  epollItems: DeferredEpoll[];
  skipped: { fd: number; kind: string; why: string }[];
  /** Undoes everything (closes fds, removes pins...). */
  rollback(): void;
  /** Closes crtool's copies once they are handed over (keeps what exists outside them). */
  release(): Promise<void>;
}

/** "REG", "BPFMAP"... or "type N" for a number crtool does not know. */
export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `type ${type}`;
}

/** A file's kind as summaries name it: crtool's kind name for EXT files ("bpf-prog"), else the fd type. */
export function kindLabel(entry: ImageMessage | undefined, type: number): string {
  const kind = entry ? kindOfEntry(entry) : undefined;
  return kind?.extKind ?? typeName(type);
}

/** An fd of the table that restore cannot re-create, and why. */
export interface Refusal {
  fd: number;
  /** The file as the user knows it: `BPF program "x" (id 3 at dump time, KPROBE)`, or the fd type. */
  what: string;
  why: string;
}

const CANNOT = "crtool cannot restore this kind of file";

/**
 * Every fd of `table` that restore cannot re-create (fds of kinds crtool
 * does not know, or records but cannot restore, such as BPF programs):
 * restore and --dry-run both refuse exactly these, with RestoreRefusedError.
 */
export async function tableRefusals(table: readonly ImageMessage[], files: ReadonlyMap<number, ImageMessage>, ctx: RestoreContext): Promise<Refusal[]> {
  const out: Refusal[] = [];
  for (const e of table) {
    const entry = files.get(e.id as number);
    // A missing files.img entry is the image's fault, reported when the fd is restored.
    if (!entry) continue;
    const kind = kindOfEntry(entry);
    if (!kind) {
      out.push({ fd: e.fd as number, what: typeName(e.type as number), why: CANNOT });
      continue;
    }
    if (isRestorable(kind)) continue;
    const message = entry[kind.field] as ImageMessage | undefined;
    const what = kind.describe && message ? await kind.describe(message, e.id as number, ctx) : kind.extKind ?? kind.type;
    out.push({ fd: e.fd as number, what, why: kind.notRestorable ?? CANNOT });
  }
  return out;
}

/** Raised when restore (or --dry-run) refuses fds: every one of them, in one message. */
export class RestoreRefusedError extends NotSupportedError {
  override readonly code = "RESTORE_REFUSED";
  constructor(readonly refusals: readonly Refusal[]) {
    const them = refusals.length === 1 ? "it" : "them";
    // Grouped by reason: a BPF application holds several programs and links.
    const byWhy = new Map<string, string[]>();
    for (const r of refusals) byWhy.set(r.why, [...(byWhy.get(r.why) ?? []), `fd ${r.fd} (${r.what})`]);
    super(`cannot restore ${[...byWhy].map(([why, fds]) => `${fds.join(", ")}: ${why}`).join("; ")}; use --skip-unsupported to leave ${them} out`);
  }
}

/** The restorable kind of a files.img entry, if crtool has one. */
export function restorableKindOf(entry: ImageMessage): RestorableFdKind | undefined {
  const kind = kindOfEntry(entry);
  return kind && isRestorable(kind) ? kind : undefined;
}

export class Restore {
  readonly undo: (() => void)[] = [];
  private readonly restored = new Map<number, Promise<number>>();
  readonly ctx: ReturnType<typeof createRestoreContext>;
  private fdToFile = new Map<number, number>();
  readonly deferredEpoll: DeferredEpoll[] = [];

  constructor(readonly req: RestoreRequest, readonly images: DumpImages, readonly pid: number, readonly files: Map<number, ImageMessage>) {
    const log = req.log ?? (() => {});
    this.ctx = createRestoreContext({
      options: { skipUnsupported: req.skipUnsupported, verbose: req.verbose, cpuMismatch: req.cpuMismatch, upgrade: req.upgrade },
      dir: req.dir,
      pid,
      loadImage: (name) => images.load(name),
      openImage: (name) => images.open(name),
      fileEntry: (id) => files.get(id),
      restoreFile: (id) => this.restoreFile(id),
      fileIdOfFd: (fd) => this.fdToFile.get(fd),
      onRollback: (fn) => this.undo.push(fn),
      log,
      deferEpollItem: (item) => this.deferredEpoll.push(item),
    });
  }

  setTable(table: ImageMessage[]): void {
    this.fdToFile = new Map(table.map((e) => [e.fd as number, e.id as number]));
  }

  /** The open file with this id, restored once however many fds share it. */
  restoreFile(id: number): Promise<number> {
    let p = this.restored.get(id);
    if (!p) {
      p = (async () => {
        const entry = this.files.get(id);
        if (!entry) throw new RestoreError(`files.img has no file with id ${id}`);
        const kind = restorableKindOf(entry);
        const typeName = TYPE_NAMES.get(entry.type as number) ?? `type ${entry.type}`;
        if (!kind) throw new NotSupportedError(`file ${id} (${typeName}): ${CANNOT}`);
        const message = entry[kind.field] as ImageMessage | undefined;
        if (!message) throw new RestoreError(`file ${id} (${typeName}) has no "${kind.field}" record in files.img`);
        faultPoint("fd-install");
        const { fd } = await kind.restore(message, id, this.ctx);
        this.undo.push(() => closeQuietly(fd));
        return fd;
      })();
      this.restored.set(id, p);
    }
    return p;
  }

  /** Checks every restored map against the images (--verify); throws VerifyError listing what differs. */
  async verify(): Promise<void> {
    const diffs = await verifyRestoredMaps(this.ctx);
    for (const d of diffs) {
      this.ctx.log(`verify: ${d}`);
      this.req.onDifference?.(d);
    }
    if (diffs.length > 0) throw new VerifyError(diffs);
    this.ctx.log("verify: every restored map equals its image");
  }

  /** The maps restored so far (none when nothing used the BPF map session). */
  async restoredMaps(): Promise<readonly RestoredMap[]> {
    return this.ctx.started("bpfmap:session") ? [...(await MapRestoreSession.of(this.ctx)).maps] : [];
  }

  /** Lets go of crtool's own references (maps stay alive through their fds and pins). */
  async releaseMaps(): Promise<void> {
    if (this.ctx.started("bpfmap:session")) (await MapRestoreSession.of(this.ctx)).release();
  }

  rollback(): void {
    for (const fn of this.undo.splice(0).reverse()) {
      try {
        fn();
      } catch {
        /* keep undoing the rest */
      }
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    close(fd);
  } catch {
    /* already closed */
  }
}

/** The process whose fds to restore: the one asked for, else the dump's root task. */
export async function choosePid(images: DumpImages, req: { dir: string; pid?: number }): Promise<number> {
  if (!(await images.load("pstree.img"))) {
    const files = await images.files();
    if ([...files.values()].some((f) => f.bpf !== undefined)) {
      throw new RestoreError(`${req.dir} is a dump of pinned BPF objects (crtool dump --pinned), with no process: restore its maps with --pin BPFFS_DIR or --pin-recorded`);
    }
  }
  const processes = await images.processes();
  const pid = req.pid ?? (processes.find((p) => p.ppid === 0)?.pid as number | undefined) ?? (processes[0]?.pid as number);
  if (!processes.some((p) => p.pid === pid)) {
    throw new RestoreError(`${req.dir}: process ${pid} is not in this dump (it has ${processes.map((p) => p.pid).join(", ")})`);
  }
  // A zombie has a core image and no ids or fd table: nothing to restore, which is not a damaged dump.
  if (!(await images.load(`ids-${pid}.img`))) {
    const tc = (await images.load(`core-${pid}.img`))?.[0]?.message.tc as { task_state?: number } | undefined;
    if (tc?.task_state === TASK_DEAD) throw new RestoreError(`${req.dir}: process ${pid} had exited when it was dumped (a zombie): it has no fds to restore`);
  }
  return pid;
}

/** CRIU's task_state of a process that had exited and was not yet reaped (core_entry.tc). */
const TASK_DEAD = 2;

/** Re-creates the fd table of a dumped process in crtool; the caller hands it over or rolls it back. */
export async function restoreTable(req: RestoreRequest): Promise<RestoredTable> {
  const images = await DumpImages.open(req.dir);
  const pid = await choosePid(images, req);
  const table = await images.fdTable(pid);
  const r = new Restore(req, images, pid, await images.files());
  r.setTable(table);
  const unregister = onTerminate(() => r.rollback());
  const fds = new Map<number, number>();
  const kinds = new Map<number, string>();
  const cloexec = new Set<number>();
  const skipped: RestoredTable["skipped"] = [];
  try {
    const wanted = table.filter((e) => req.restoreStdio || (e.fd as number) > 2);
    const refusals = await tableRefusals(wanted, r.files, r.ctx);
    if (refusals.length > 0 && !req.skipUnsupported) throw new RestoreRefusedError(refusals);
    for (const x of refusals) skipped.push({ fd: x.fd, kind: x.what, why: x.why });
    const refused = new Set(refusals.map((x) => x.fd));
    const kindOf = (e: ImageMessage) => {
      const entry = r.files.get(e.id as number);
      return entry ? restorableKindOf(entry) : undefined;
    };
    // Kinds that refer to other files (epoll) come last.
    const order = wanted.filter((e) => !refused.has(e.fd as number)).sort((a, b) => (kindOf(a)?.restoreOrder ?? 0) - (kindOf(b)?.restoreOrder ?? 0));
    for (const e of order) {
      const fdNo = e.fd as number;
      const label = kindLabel(r.files.get(e.id as number), e.type as number);
      try {
        fds.set(fdNo, await r.restoreFile(e.id as number));
        kinds.set(fdNo, label);
        if (((e.flags as number) & 1) !== 0) cloexec.add(fdNo);
      } catch (err) {
        if (err instanceof NotSupportedError && req.skipUnsupported) {
          skipped.push({ fd: fdNo, kind: label, why: err.reason });
          continue;
        }
        throw err instanceof CrtoolError ? new RestoreError(`fd ${fdNo} (${label}): ${err.reason}`) : err;
      }
    }
    if (req.verify) await r.verify();
    const maps = await r.restoredMaps();
    return {
      pid,
      fds,
      kinds,
      maps,
      verified: !!req.verify,
      cloexec,
      epollItems: r.deferredEpoll,
      skipped,
      rollback: () => {
        r.rollback();
        unregister();
      },
      release: async () => {
        for (const fd of new Set(fds.values())) closeQuietly(fd);
        await r.releaseMaps();
        unregister();
      },
    };
  } catch (e) {
    r.rollback();
    unregister();
    throw e;
  }
}

/**
 * Starts `command` with the restored fds at their numbers (stdio stays the
 * caller's unless restored) and waits for it; resolves to its exit status.
 */
export async function execWithTable(
  table: RestoredTable,
  command: string[],
  restoreStdio: boolean,
  log?: (message: string) => void,
  /** Called once the command runs with its fds (before it is waited for). */
  started?: () => void,
): Promise<number> {
  const maxFd = Math.max(2, ...table.fds.keys());
  const stdio: StdioOptions = [];
  for (let i = 0; i <= maxFd; i++) {
    const ours = table.fds.get(i);
    if (ours !== undefined) stdio.push(ours);
    else stdio.push(i <= 2 && !restoreStdio ? "inherit" : "ignore");
  }
  await pausePoint("before-exec");
  faultPoint("exec");
  const cloexec = [...table.cloexec].sort((a, b) => a - b);
  // Informational since FD_CLOEXEC is set inside the command; what it has to go by when it could not be.
  const env = { ...process.env, CRTOOL_CLOEXEC_FDS: cloexec.join(",") };
  const epollItems: DeferredEpollItem[] = [];
  for (const item of table.epollItems) {
    const epfd = [...table.fds].find(([, ours]) => ours === item.epoll)?.[0];
    // Only when the command will hold the epoll and this very target at the recorded number
    // (fds 0-2 stay the caller's without --restore-stdio).
    if (epfd === undefined || table.fds.get(item.tfd) !== item.target) item.addFromCrtool();
    else epollItems.push({ epfd, tfd: item.tfd, events: item.events, data: item.data, addFromCrtool: item.addFromCrtool });
  }
  // The command gets the restored table and nothing else: an fd crtool's own caller left open across
  // exec would otherwise reach it (at a number the table leaves free, or above), where CRIU gives a
  // restored process exactly its dumped fds. The command's own fds are placed by dup2, which clears the flag.
  closeOnExecFrom(3);
  const child = await launch({
    command,
    stdio,
    env,
    cloexec,
    epollItems,
    warn: (m) => process.stderr.write(`crtool: ${m}\n`),
    log: log ?? (() => {}),
  });
  // The command has its copies now; crtool's are no longer needed.
  await table.release();
  started?.();
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  const status = await new Promise<number>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? osSignal(signal) : 0)));
  });
  for (const [s, h] of handlers) process.off(s, h);
  return status;
}

function osSignal(name: NodeJS.Signals): number {
  return constants.signals[name] ?? 0;
}
