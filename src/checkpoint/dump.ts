/**
 * `crtool dump`: freeze a process tree, write its fd table (and everything
 * CRIU's tools need around it) as CRIU images, and let the tree run again.
 * The directory appears complete or not at all.
 */
import { NotSupportedError } from "../images/errors.js";
import type { ImageMessage } from "../images/wire/message.js";
import { FD_TYPE_NUMBERS, type FdKind, type TaskFd } from "../contract/fd-kind.js";
import { describeUnknown, kindOf } from "../fds/index.js";
import { createDumpContext, emptyStats, type DumpContext, type DumpOptions, type DumpSlot, type DumpStats, type ProgressTicker } from "../contract/dump-context.js";
import { DumpDir } from "./dump-dir.js";
import { faultRequested, pauseMs, pausePoint, plainPath } from "../debug/hooks.js";
import { mark } from "../debug/timings.js";
import { ImageSet } from "./image-set.js";
import { Freezer, type FreezerMode } from "./freezer.js";
import { FdGrabber, listTaskFds, openTaskFdList, readTaskFd } from "./task-fds.js";
import { FileIds, KernelObjectIds } from "./file-ids.js";
import { CONTENTS_PREFETCH, ContentsPrefetch } from "../bpf/read/prefetch.js";
import { MapFdShortPath } from "./map-fd-short-path.js";
import { releaseBatchReaders } from "../bpf/read/batch.js";
import { coreEntries, fsPaths, inventoryEntry, namespaceIdsOf, pstreeEntry } from "./task-images.js";
import { namespaceIds } from "../fds/ns-ids.js";
import { NoSuchProcessError, type TreeProcess } from "./process-tree.js";
import { readFileSync } from "node:fs";
import { DumpHelperThread, openFdCount, reserveFds, reserveFdsInBackground } from "../kernel/index.js";
import { availableParallelism } from "node:os";
import { monotonicMs } from "../kernel/random.js";
import { onTerminate } from "../io/terminate.js";

/** Processes with this many fds get their fdinfo read ahead on a second thread. */
export const READ_AHEAD_FROM = 1024;

/** The process exists and has not exited (a zombie has nothing left to read). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+[ZX]/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** What a dump session needs: the options, where to log, and a progress display. */
export type SessionOptions = DumpOptions & {
  log?: (message: string) => void;
  progress?: (label: string, total: number) => ProgressTicker | undefined;
};

export interface DumpRequest extends SessionOptions {
  pid: number;
  dir: string;
  leaveStopped: boolean;
  /** Default "auto": the cgroup v2 freezer when the tree is exactly one cgroup's content, else ptrace. */
  freezer?: FreezerMode;
}

export interface DumpSummary extends DumpStats {
  dir: string;
  images: number;
  bytes: number;
  seconds: number;
  /** How the tree was frozen ("cgroup" with the cgroup's directory, or "ptrace"); absent for --pinned. */
  freezer?: "cgroup" | "ptrace";
  cgroup?: string;
}

export { emptyStats };

/** An fd whose kind crtool does not handle (or cannot save), with --skip-unsupported off. */
export class UnsupportedFdError extends NotSupportedError {
  override readonly code = "UNSUPPORTED_FD";
}

const zeroFown = (): ImageMessage => ({ uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 });

/** The state of one dump: its images, file ids, and the context fd kinds see. */
export class DumpSession {
  readonly stats = emptyStats();
  readonly images: ImageSet;
  readonly grabber = new FdGrabber();
  readonly fileIds = new FileIds();
  private readonly pathIds = new Map<string, number>();
  private readonly prefetch = new ContentsPrefetch({
    helper: () => this.helperThread(),
    off: plainPath("prefetch"),
    discard: plainPath("prefetch-fallback"),
    adopt: (fd) => this.grabber.adopt(fd),
  });
  /** The services this session gives fd kinds (DumpContext.slot). */
  private readonly slots = new Map<DumpSlot<unknown>, unknown>([[CONTENTS_PREFETCH, this.prefetch]]);
  readonly ctx: DumpContext;

  constructor(readonly req: SessionOptions, dir: string) {
    this.images = new ImageSet(dir);
    const log = req.log ?? (() => {});
    this.ctx = createDumpContext({
      options: { skipUnsupported: req.skipUnsupported, verbose: req.verbose },
      stats: this.stats,
      grab: (fd: TaskFd) => this.grabber.grab(fd.pid, fd.fd),
      image: (name, magic) => this.images.image(name, magic),
      pagesImage: () => this.images.pagesImage(),
      newFileId: () => this.fileIds.newId(),
      spoolDir: dir,
      slots: this.slots,
      progress: req.progress,
      log: req.log,
    });
    this.mapFds = new MapFdShortPath({
      grabber: this.grabber,
      fileIds: this.fileIds,
      ctx: this.ctx,
      refuse: (e, pid, fd, label) => this.unsupportedOrThrow(e, pid, fd, label),
    });
  }

  /** BPF map fds the short way (see MapFdShortPath). */
  private readonly mapFds: MapFdShortPath;

  private skip(fd: TaskFd, kind: string, why: string): void {
    this.ctx.skip({ pid: fd.pid, fd: fd.fd, kind, why });
  }

  /**
   * One fd: its file entry (once per open file) and its fdinfo entry.
   * Synchronous when the fd kind's dump is (BPF maps read by the helper
   * thread): a promise per fd shows in dumps of tens of thousands of fds.
   */
  private dumpFd(fd: TaskFd, fdinfo: ReturnType<ImageSet["image"]>): void | Promise<void> {
    const kind: FdKind | undefined = kindOf(fd);
    if (!kind) {
      const what = describeUnknown(fd);
      if (!this.req.skipUnsupported) {
        this.refused.push(`pid ${fd.pid} fd ${fd.fd} (${what}): crtool cannot dump this kind of file`);
        return;
      }
      this.skip(fd, what, "unknown fd kind");
      return;
    }
    const known = this.fileIds.find(fd);
    if (known !== undefined) {
      this.fileIds.remember(fd, known);
      this.fdDumped(fd, kind, known, fdinfo);
      return;
    }
    const id = this.fileIds.newId();
    let msg: ImageMessage | Promise<ImageMessage>;
    try {
      msg = kind.dump(fd, id, this.ctx);
    } catch (e) {
      this.unsupportedOrThrow(e, fd.pid, fd.fd, kind.extKind ?? kind.type);
      return;
    }
    if (!(msg instanceof Promise)) {
      this.fileDumped(fd, kind, id, msg, fdinfo);
      return;
    }
    return msg.then(
      (m) => this.fileDumped(fd, kind, id, m, fdinfo),
      (e: unknown) => this.unsupportedOrThrow(e, fd.pid, fd.fd, kind.extKind ?? kind.type),
    );
  }

  /**
   * A NotSupportedError: with --skip-unsupported the fd is left out and
   * listed, else it joins the refusals the dump reports together at the end.
   * Anything else is thrown.
   */
  private unsupportedOrThrow(e: unknown, pid: number, fd: number, label: string): void {
    if (!(e instanceof NotSupportedError)) throw e;
    if (this.req.skipUnsupported) {
      this.ctx.skip({ pid, fd, kind: label, why: e.reason });
      return;
    }
    const where = `pid ${pid} fd ${fd}`;
    this.refused.push(e.message.startsWith(where) ? e.message : `${where} (${label}): ${e.message}`);
  }

  /** What could not be dumped (without --skip-unsupported): every fd, reported in one error once all were tried. */
  private readonly refused: string[] = [];

  /** Throws the refusals collected so far as one UnsupportedFdError. */
  private throwRefusals(): void {
    const n = this.refused.length;
    if (n === 0) return;
    throw new UnsupportedFdError(
      `cannot dump ${n === 1 ? "1 fd" : `${n} fds`}: ${this.refused.join("; ")}; use --skip-unsupported to leave ${n === 1 ? "it" : "them"} out (and record what can be)`,
    );
  }

  private fileDumped(fd: TaskFd, kind: FdKind, id: number, msg: ImageMessage, fdinfo: ReturnType<ImageSet["image"]>): void {
    this.fileIds.remember(fd, id);
    this.ctx.addFile({ type: FD_TYPE_NUMBERS[kind.type], id, [kind.field]: msg });
    this.fdDumped(fd, kind, id, fdinfo);
  }

  private fdDumped(fd: TaskFd, kind: FdKind, id: number, fdinfo: ReturnType<ImageSet["image"]>): void {
    fdinfo.append({ id, flags: fd.cloexec ? 1 : 0, type: FD_TYPE_NUMBERS[kind.type], fd: fd.fd });
    this.stats.fds++;
    // EXT files by crtool's kind name ("bpf-prog"), the rest by fd type.
    const label = kind.extKind ?? kind.type;
    this.stats.fdsByKind[label] = (this.stats.fdsByKind[label] ?? 0) + 1;
  }

  /** A REG entry for a path that is not an open file (cwd, root), shared by path. */
  private pathEntry(path: string, mode: number): number {
    let id = this.pathIds.get(path);
    if (id === undefined) {
      id = this.fileIds.newId();
      this.pathIds.set(path, id);
      this.ctx.addFile({ type: FD_TYPE_NUMBERS.REG, id, reg: { id, flags: 0, pos: 0n, fown: zeroFown(), name: path, mode } });
    }
    return id;
  }

  private helper: DumpHelperThread | undefined;

  /** The thread that reads small maps and fdinfo beside the main thread, started on first use. */
  private helperThread(): DumpHelperThread {
    if (!this.helper) {
      const helper = new DumpHelperThread({ failAtStart: faultRequested("helper-thread"), startDelayMs: pauseMs("helper-start") });
      // SIGINT or SIGTERM while it starts: the exit that follows must not stop it inside koffi's initialisation.
      const unregister = onTerminate(() => helper.waitStarted(THREAD_END_WAIT_MS));
      void helper.ended.then(unregister);
      this.helper = helper;
    }
    return this.helper;
  }

  /**
   * Starts the helper thread now when the process at the top of the tree
   * holds enough fds to have them read ahead: a thread takes tens of
   * milliseconds to start, which then pass while the tree is frozen and its
   * fds listed on this one, not while both should be working.
   */
  startEarly(pid: number): void {
    const open = openFdCount(pid) ?? 0;
    if (!this.readsAhead(open)) return;
    this.helperThread();
    this.ctx.log(`process ${pid} holds ${open} fds: the helper thread was started before the freeze`);
  }

  private readsAhead(fdCount: number): boolean {
    return fdCount >= READ_AHEAD_FROM && !plainPath("fdinfo-ahead") && availableParallelism() >= 2;
  }

  private closeHelper(): void {
    // Only a thread still starting must be waited for; one that is up may be stopped anywhere.
    if (this.helper?.starting) this.helperEnded = this.helper.ended;
    this.helper?.close();
    this.helper = undefined;
  }

  /** The helper thread's end, if one was started and told to stop. */
  private helperEnded: Promise<unknown> | undefined;

  /**
   * Waits (after the thaw) for a helper thread that was still starting to
   * end. The CLI exits with process.exit(), which stops a worker wherever it
   * is: one still loading koffi's addon (a dump that ended before the thread
   * it started was up, on a busy machine) makes the addon's initialisation
   * fail, and Node aborts the process with a fatal error after a successful
   * dump. Told to stop, such a thread ends once its start-up is done; one
   * that never ends is not waited for past a few seconds.
   */
  async threadsEnded(): Promise<void> {
    if (!this.helperEnded) return;
    const since = monotonicMs();
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("gave up"), THREAD_END_WAIT_MS);
      timer.unref();
    });
    const how = await Promise.race([this.helperEnded.then(() => "ended"), giveUp]);
    clearTimeout(timer);
    const waited = monotonicMs() - since;
    if (waited >= 1 || how !== "ended") this.ctx.log(`the helper thread ${how === "ended" ? "ended" : "had not ended"} ${Math.round(waited)} ms after the thaw`);
  }

  private readonly kobj = new KernelObjectIds();
  private readonly fdLists = new Map<number, number[]>();

  /** The fd numbers of a process of the (frozen) tree, listed once. */
  private fdsOf(pid: number): number[] {
    let l = this.fdLists.get(pid);
    if (!l) this.fdLists.set(pid, (l = listTaskFds(pid)));
    return l;
  }
  /** fd tables already written (processes sharing one, CLONE_FILES, write it once). */
  private readonly tablesDone = new Set<number>();
  private rootNs: Record<string, number> = {};

  /**
   * Lists the tree's fds, and grows crtool's own fd table once for all of
   * them: every fd is duplicated into crtool at some point (small maps'
   * copies are kept until the end). The growth waits for an RCU grace period
   * (crtool has threads), which passes on another thread while this one
   * lists (the directories are opened first: an fd opened during the growth
   * would wait for it).
   */
  private async listFdsAndReserve(tree: TreeProcess[]): Promise<void> {
    const live = tree.filter((p) => !p.zombie && !this.fdLists.has(p.pid));
    let expected = 0;
    for (const p of live) expected += openFdCount(p.pid) ?? 0;
    if (expected === 0) {
      // No count from the kernel: list, then grow the table by what the listing found.
      let total = 0;
      for (const p of tree) if (!p.zombie) total += this.fdsOf(p.pid).length;
      reserveFds(total);
      return;
    }
    const lists = live.map((p) => [p.pid, openTaskFdList(p.pid)] as const);
    const reserved = reserveFdsInBackground(expected);
    try {
      for (const [pid, list] of lists) this.fdLists.set(pid, list.read());
    } finally {
      for (const [, list] of lists) list.close();
      await reserved;
    }
  }

  /** Dumps a process tree (frozen by the caller). */
  async run(tree: TreeProcess[]): Promise<void> {
    const ns = namespaceIds(this.ctx);
    // Namespaces of the tree first, in CRIU's order, before any namespace fd.
    for (const p of tree) if (!p.zombie) namespaceIdsOf(p.pid, ns);
    await this.listFdsAndReserve(tree);
    for (const p of tree) {
      try {
        await this.dumpProcess(p, tree[0].pid);
      } catch (e) {
        // Whatever failed (a /proc read, a pidfd call...), a target that died is the reason to report.
        if (!(e instanceof NoSuchProcessError) && !alive(p.pid)) throw new NoSuchProcessError(`process ${p.pid} exited during the dump`);
        throw e;
      }
    }
    this.throwRefusals();
    this.images.image("inventory.img", "INVENTORY").append(inventoryEntry(this.rootNs));
  }

  private async dumpProcess(p: TreeProcess, root: number): Promise<void> {
    this.stats.processes++;
    this.stats.threads += p.zombie ? 0 : p.threads.length;
    this.images.image("pstree.img", "PSTREE").append(pstreeEntry(p, root));
    for (const [tid, core] of coreEntries(p)) this.images.image(`core-${tid}.img`, "CORE").append(core);
    if (p.zombie) return;
    const nsIds = namespaceIdsOf(p.pid, namespaceIds(this.ctx));
    if (p.pid === root) this.rootNs = nsIds;
    const ids = { ...this.kobj.idsOf(p.pid), ...nsIds };
    this.images.image(`ids-${p.pid}.img`, "IDS").append(ids);
    if (!this.tablesDone.has(ids.files_id)) {
      this.tablesDone.add(ids.files_id);
      // Created even when empty: CRIU's restore expects every task's fd table image.
      const fdinfo = this.images.image(`fdinfo-${ids.files_id}.img`, "FDINFO");
      const fds = this.fdsOf(p.pid);
      if (this.readsAhead(fds.length)) this.grabber.readAhead(p.pid, fds, this.helperThread());
      const short = !plainPath("map-fds");
      for (const n of fds) {
        try {
          // Only once the helper thread takes maps: no fd before that could take the short path.
          const mapDone = short && this.prefetch.takingMaps ? this.mapFds.dump(p.pid, n, fdinfo) : false;
          if (mapDone !== false) {
            if (mapDone) await mapDone;
            continue;
          }
          const pending = this.dumpFd(readTaskFd(p.pid, n, this.grabber), fdinfo);
          if (pending) await pending;
        } finally {
          this.grabber.release(p.pid, n);
        }
      }
    }
    const fs = fsPaths(p.pid);
    const cwdId = this.pathEntry(fs.cwd, fs.cwdMode);
    const rootId = this.pathEntry(fs.root, fs.rootMode);
    this.images.image(`fs-${p.pid}.img`, "FS").append({ cwd_id: cwdId, root_id: rootId, umask: fs.umask });
  }

  /** Finishes the images and makes the directory visible; returns the summary. */
  async commit(dir: DumpDir, started: number): Promise<DumpSummary> {
    await this.prefetch.drain();
    this.prefetch.close();
    releaseBatchReaders();
    const used = this.prefetch.used;
    const takenBack = Math.min(used, this.helper?.stolen ?? 0);
    if (used > takenBack) this.ctx.log(`contents of ${used - takenBack} small BPF maps were read on a second thread${takenBack > 0 ? ` (${takenBack} more queued for it were read by the main thread as it waited)` : ""}`);
    else if (used > 0) this.ctx.log(`contents of ${used} small BPF maps queued for the helper thread were read by the main thread (the thread did not take them)`);
    if (this.mapFds.count > 0) this.ctx.log(`${this.mapFds.count} BPF map fds took the short path (fdinfo read from its bytes, a map seen for the first time)`);
    const ahead = this.helper?.readAheadUsed ?? 0;
    const probed = this.helper?.probesUsed ?? 0;
    this.closeHelper();
    if (ahead > 0) this.ctx.log(`fdinfo of ${ahead} fds was read ahead on a second thread${probed > 0 ? ` (with ${probed} BPF map fds taken and asked about)` : ""}`);
    this.grabber.closeAll();
    const images = this.images.count;
    const bytes = this.images.bytes;
    this.images.closeAll();
    dir.commit();
    return { ...this.stats, dir: dir.final, images, bytes, seconds: (monotonicMs() - started) / 1000 };
  }

  abort(dir: DumpDir): void {
    this.prefetch.close();
    releaseBatchReaders();
    this.closeHelper();
    this.grabber.closeAll();
    this.images.closeAll(true);
    dir.abort();
  }
}

/** How long a dump waits, after the thaw, for its helper thread to end. */
const THREAD_END_WAIT_MS = 5_000;

export async function dump(req: DumpRequest): Promise<DumpSummary> {
  const started = monotonicMs();
  mark("dump modules loaded");
  const dir = DumpDir.prepare(req.dir);
  const freezer = new Freezer(req.log, req.freezer);
  const session = new DumpSession(req, dir.temp);
  try {
    session.startEarly(req.pid);
    const tree = freezer.freeze(req.pid);
    mark("freeze");
    await pausePoint("after-freeze");
    await session.run(tree);
    mark("fd tables and contents");
    await pausePoint("before-commit");
    const summary = await session.commit(dir, started);
    mark("images closed, directory committed");
    const how = freezer.method;
    return how.kind === "cgroup" ? { ...summary, freezer: "cgroup", cgroup: how.dir } : { ...summary, freezer: "ptrace" };
  } catch (e) {
    session.abort(dir);
    throw e;
  } finally {
    freezer.release(req.leaveStopped);
    mark("thaw");
    await session.threadsEnded();
  }
}
