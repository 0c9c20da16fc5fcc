/**
 * Shared by the restore tests: dumping a workload's fds with the fd table
 * images a restore reads (ids-PID.img, fdinfo-1.img, as the orchestrator's
 * dump writes them), a RestoreContext over a dump directory built from
 * crtool's own ImageReader (files.img by id, the fd table, a memo per file,
 * undo steps collected), and small readers of crtool's own restored fds.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { LoadedEntry, RestoreContext } from "../../src/contract/restore-context.js";
import { ImageReader } from "../../src/images/image-reader.js";
import { NotSupportedError } from "../../src/images/errors.js";
import type { ImageMessage } from "../../src/images/wire/message.js";
import { readFdinfo, read, stableBuffer, type Fdinfo } from "../../src/kernel/index.js";
import { FD_TYPE_NUMBERS, isRestorable, type RestorableFdKind } from "../../src/contract/fd-kind.js";
import { closeQuietly } from "../../src/fds/restore-fd.js";
import { ioctlRaw } from "../../src/kernel/index.js";
import { recvmsg } from "../../src/kernel/index.js";
import { MSG_DONTWAIT } from "../../src/fds/sock-diag/constants.js";
import { FD_KINDS_UNDER_TEST } from "./kinds.js";
import { TestDumpContext, dumpFds, type Dumped } from "./helpers.js";

export const RESTORABLE_KINDS: readonly RestorableFdKind[] = FD_KINDS_UNDER_TEST.filter(isRestorable);

/** Dumps `fds` of `pid` into `dir` with their fd table, as the orchestrator's dump does; closes the images. */
export async function dumpWithTable(pid: number, fds: number[], dir: string): Promise<Map<number, Dumped>> {
  const ctx = new TestDumpContext(dir);
  try {
    const dumped = await dumpFds(ctx, pid, fds, FD_KINDS_UNDER_TEST);
    ctx.image(`ids-${pid}.img`, "IDS").append({ vm_id: 1, files_id: 1, fs_id: 1, sighand_id: 1 });
    const table = ctx.image("fdinfo-1.img", "FDINFO");
    for (const [fd, d] of [...dumped].sort((a, b) => a[0] - b[0])) {
      table.append({ id: d.id, flags: 0, type: FD_TYPE_NUMBERS[d.kind.type], fd });
    }
    return dumped;
  } finally {
    ctx.close();
  }
}

/** Every entry of an image file, payloads included; undefined if there is no such file. */
async function loadEntries(path: string): Promise<LoadedEntry[] | undefined> {
  if (!existsSync(path)) return undefined;
  const reader = await ImageReader.open(readFileSync(path), { name: path });
  const out: LoadedEntry[] = [];
  for await (const e of reader.entries()) out.push(e);
  return out;
}

/**
 * The RestoreContext the orchestrator gives the kinds, over a dump
 * directory, restoring with the kinds of this folder. Restored fds are
 * crtool's (this test process's); rollback() closes them and runs every
 * kind's undo steps, as a failed restore does.
 */
export class TestRestoreContext implements RestoreContext {
  readonly options = { skipUnsupported: false, verbose: false };
  readonly logs: string[] = [];
  private readonly undo: (() => void)[] = [];
  private readonly images = new Map<string, Promise<LoadedEntry[] | undefined>>();
  private readonly onceResults = new Map<string, Promise<unknown>>();
  private readonly restored = new Map<number, Promise<number>>();

  private constructor(
    readonly dir: string,
    readonly pid: number,
    private readonly files: Map<number, ImageMessage>,
    /** Task fd number → file id. */
    readonly table: Map<number, number>,
  ) {}

  static async open(dir: string, pid: number): Promise<TestRestoreContext> {
    const files = new Map(((await loadEntries(join(dir, "files.img"))) ?? []).map((e) => [e.message.id as number, e.message]));
    const ids = await loadEntries(join(dir, `ids-${pid}.img`));
    const table = (await loadEntries(join(dir, `fdinfo-${ids![0].message.files_id}.img`)))!;
    return new TestRestoreContext(dir, pid, files, new Map(table.map((e) => [e.message.fd as number, e.message.id as number])));
  }

  loadImage(fileName: string): Promise<LoadedEntry[] | undefined> {
    let p = this.images.get(fileName);
    if (!p) this.images.set(fileName, (p = loadEntries(join(this.dir, fileName))));
    return p;
  }

  async openImage(fileName: string): Promise<{ reader: ImageReader; path: string } | undefined> {
    const path = join(this.dir, fileName);
    return existsSync(path) ? { reader: await ImageReader.open(readFileSync(path), { name: path }), path } : undefined;
  }

  fileEntry(id: number): ImageMessage | undefined {
    return this.files.get(id);
  }

  fileIdOfFd(fd: number): number | undefined {
    return this.table.get(fd);
  }

  restoreFile(id: number): Promise<number> {
    let p = this.restored.get(id);
    if (!p) {
      p = (async () => {
        const entry = this.files.get(id);
        if (!entry) throw new Error(`files.img has no file ${id}`);
        const kind = RESTORABLE_KINDS.find((k) => FD_TYPE_NUMBERS[k.type] === entry.type);
        if (!kind) throw new NotSupportedError(`file ${id} (type ${entry.type}): not a kind these tests restore`);
        const { fd } = await kind.restore(entry[kind.field] as ImageMessage, id, this);
        this.undo.push(() => closeQuietly(fd));
        return fd;
      })();
      this.restored.set(id, p);
    }
    return p;
  }

  /** crtool's fd for what the task had at fd number `fd`. */
  restoreFd(fd: number): Promise<number> {
    const id = this.table.get(fd);
    if (id === undefined) throw new Error(`fd ${fd} is not in the dumped fd table`);
    return this.restoreFile(id);
  }

  onRollback(undo: () => void): void {
    this.undo.push(undo);
  }

  once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.onceResults.get(key) as Promise<T> | undefined;
    if (!p) this.onceResults.set(key, (p = fn()));
    return p;
  }

  log(message: string): void {
    this.logs.push(message);
  }

  /** Closes every restored fd and runs the kinds' undo steps, newest first. */
  rollback(): void {
    for (const fn of this.undo.splice(0).reverse()) fn();
  }
}

/** fdinfo of one of our own fds. */
export function ownFdinfo(fd: number): Fdinfo {
  return readFdinfo(process.pid, fd);
}

/** The open file's flags without O_CLOEXEC (the fd's flag, not the file's). */
export function fileFlagsOf(fd: number): number {
  return ownFdinfo(fd).flags & ~0o2000000;
}

export function linkOf(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`);
}

const FIONREAD = 0x541b;

/** Bytes queued in a pipe or FIFO (or on an inotify fd). */
export function queued(fd: number): number {
  const n = stableBuffer(4);
  if (ioctlRaw(fd, FIONREAD, n) < 0) throw new Error(`FIONREAD on fd ${fd} failed`);
  return n.readInt32LE(0);
}

/** Reads exactly the bytes queued in a pipe or FIFO (never blocks: it asks how many first). */
export function readQueued(fd: number): Buffer {
  const out = Buffer.alloc(queued(fd));
  for (let got = 0; got < out.length; ) got += read(fd, out, got, out.length - got);
  return out;
}

/** Our own open fd numbers (to check a test leaves none behind). */
export function openFds(): number[] {
  return readdirSync("/proc/self/fd").map(Number).sort((a, b) => a - b);
}

/** What one socket end reads without blocking: each read (one datagram or record), and how the reading stopped. */
export function drain(fd: number): { reads: string[]; end: "EAGAIN" | "EOF" } {
  const buf = stableBuffer(65536);
  const reads: string[] = [];
  for (;;) {
    const r = recvmsg(fd, buf, MSG_DONTWAIT);
    if (r === -11) return { reads, end: "EAGAIN" };
    if (typeof r === "number") throw new Error(`recvmsg on fd ${fd}: errno ${-r}`);
    if (r.length === 0) return { reads, end: "EOF" };
    reads.push(buf.subarray(0, r.length).toString());
  }
}
