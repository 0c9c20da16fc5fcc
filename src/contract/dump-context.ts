/**
 * What an fd kind may use while dumping: its own duplicate of the target's
 * fd, the images of the dump being written, file ids, and the run's options.
 */
import type { MagicName } from "../images/magic.js";
import type { ImageMessage } from "../images/wire/message.js";
import type { Payload } from "../images/payloads/layout.js";
import type { TaskFd } from "./fd-kind.js";

/**
 * A per-dump service a lower layer defines and the orchestrator provides,
 * found by identity (e.g. src/bpf's contents prefetch): the context itself
 * stays the same for every fd kind.
 */
export class DumpSlot<T> {
  /** Only carries T for the type checker. */
  declare readonly type?: T;
  constructor(readonly name: string) {}
}

export interface DumpOptions {
  /** Record what cannot be dumped (attributes only, no contents) instead of failing. */
  skipUnsupported: boolean;
  verbose: boolean;
}

/** An image of the dump directory, written entry by entry. */
export interface ImageSink {
  /** Appends an entry with its payload (in memory). */
  append(message: ImageMessage, payload?: Payload): void;
  /**
   * Appends an entry whose byte payload is produced piece by piece (BPF map
   * contents, file data): the pieces must add up to the size the message announces.
   */
  appendStreamed(message: ImageMessage, pieces: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void>;
  /**
   * The same for pieces already in memory, synchronously; the pieces may be
   * reused by the caller as soon as it returns. Optional: sinks without it get
   * appendStreamed.
   */
  appendPieces?(message: ImageMessage, pieces: Uint8Array[]): void;
  /**
   * The same for a payload lying in files (scratch files of map contents):
   * copied file to file by the kernel where it can. Optional.
   */
  appendRanges?(message: ImageMessage, ranges: FileRange[]): void;
}

/** Bytes [offset, offset + length) of the open file `fd`. */
export interface FileRange {
  fd: number;
  offset: number;
  length: number;
}

/** A raw image (no header, no entries): pages-N.img, which pagemap images refer to by N. */
export interface RawImage {
  /** The N of pages-N.img, which a pagemap_head names. */
  readonly id: number;
  write(bytes: Uint8Array): void | Promise<void>;
}

/** Progress of one long step (a large map being read). */
export interface ProgressTicker {
  /** `n` more units done. */
  tick(n: number): void;
  done(): void;
}

export interface DumpStats {
  processes: number;
  threads: number;
  fds: number;
  fdsByKind: Record<string, number>;
  maps: number;
  mapEntries: number;
  /** Bytes of map contents written. */
  mapBytes: number;
  /** What was left out (--skip-unsupported): a process's fd (pid, fd) or a pinned object (pinPath). */
  skipped: SkippedFile[];
  /** Event streams (ring buffers, perf event arrays): recorded without their records, re-created empty. */
  streams: StreamRecord[];
  /** Program tables (PROG_ARRAY): the programs of their slots recorded by id, re-created empty. */
  programTables: ProgramTableRecord[];
  /** BPF objects that are not maps (programs, links, BTF) and perf events: recorded ("pid 1 fd 3", `BPF program "x" (id 3, KPROBE)`). */
  objects: { where: string; what: string }[];
}

export type SkippedFile = ({ pid: number; fd: number } | { pinPath: string }) & { kind: string; why: string };

/** "pid 12 fd 5" or "pinned /sys/fs/bpf/x": where a skipped file was. */
export function whereSkipped(s: SkippedFile): string {
  return "pinPath" in s ? `pinned ${s.pinPath}` : `pid ${s.pid} fd ${s.fd}`;
}

export function emptyStats(): DumpStats {
  return { processes: 0, threads: 0, fds: 0, fdsByKind: {}, maps: 0, mapEntries: 0, mapBytes: 0, skipped: [], streams: [], programTables: [], objects: [] };
}

export interface ProgramTableRecord {
  /** Who held the map ("pid 12 fd 5", "pinned map /sys/fs/bpf/x"). */
  owner: string;
  mapId: number;
  name: string;
  maxEntries: number;
  /** The filled slots: index, the program's id (and name) at dump time. */
  slots: { index: number; progId: number; progName?: string }[];
}

export interface StreamRecord {
  /** Who held the map ("pid 12 fd 5", "pinned map /sys/fs/bpf/x"). */
  owner: string;
  mapId: number;
  name: string;
  type: string;
  /** "a ring buffer"... */
  what: string;
  /** Ring buffers: bytes produced and not consumed at dump time (dropped). */
  unreadBytes?: number;
}

export interface DumpContext {
  readonly options: DumpOptions;
  readonly stats: DumpStats;
  /**
   * crtool's own duplicate of the task's fd (pidfd_getfd), the same open
   * file; closed by the orchestrator when the dump ends.
   */
  grab(fd: TaskFd): number;
  /** The image `fileName` in the dump directory (created on first use). */
  image(fileName: string, magic: MagicName): ImageSink;
  /** Creates the next pages-N.img (N shared by every user of page images in the dump). */
  pagesImage(): RawImage;
  /** A new file id, for files.img entries that are not an fd (a FIFO's path, cwd...). */
  newFileId(): number;
  /** Adds a file_entry to files.img ({type, id, <field>: message}). */
  addFile(entry: ImageMessage): void;
  /**
   * Runs `fn` once per key in this dump and returns its result every time
   * (e.g. a BPF map's contents are written once however many fds share it).
   */
  once<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /**
   * True for the first caller asking about object `id` of `kind` in this
   * dump, false after: the synchronous twin of `once` (a promise per map
   * showed in dumps of 10,000 maps), e.g. a BTF object's blob is written
   * once per BTF id (`firstTime("btf", id)`). Ids are numbers, kept as such:
   * a string key per map showed too.
   */
  firstTime(kind: string, id: number): boolean;
  /**
   * Where large scratch data may be spooled (unlinked files only): the dump's
   * own directory, so it lands on the same filesystem as the images.
   */
  readonly spoolDir: string | undefined;
  /** What the orchestrator provides for `slot` in this dump (e.g. the BPF contents prefetch), if anything. */
  slot<T>(slot: DumpSlot<T>): T | undefined;
  /** A progress display for a long step, if the user sees one (a TTY); undefined otherwise. */
  progress?: (label: string, total: number) => ProgressTicker | undefined;
  /** A progress line for -v (stderr). */
  log(message: string): void;
  /**
   * Records what --skip-unsupported leaves out, in the dump's stats and the
   * log (`message`, or "skipped WHERE (KIND): WHY").
   */
  skip(file: SkippedFile, message?: string): void;
}

/** What a DumpContext is made of: the parts only its maker (the dump session, a test) knows. */
export interface DumpContextParts {
  options: DumpOptions;
  grab(fd: TaskFd): number;
  image(fileName: string, magic: MagicName): ImageSink;
  pagesImage(): RawImage;
  newFileId(): number;
  spoolDir: string | undefined;
  progress?: (label: string, total: number) => ProgressTicker | undefined;
  log?(message: string): void;
  /** The services of lower layers this dump provides (see DumpSlot). */
  slots?: ReadonlyMap<DumpSlot<unknown>, unknown>;
  /** Stats to fill (default: new ones). */
  stats?: DumpStats;
}

/** The one way a DumpContext is made: the per-dump memos, files.img, skips and slots are the same for every maker. */
export function createDumpContext(parts: DumpContextParts): DumpContext {
  const onceResults = new Map<string, Promise<unknown>>();
  const seen = new Map<string, Set<number>>();
  const stats = parts.stats ?? emptyStats();
  const log = parts.log ?? (() => {});
  return {
    options: parts.options,
    stats,
    grab: parts.grab,
    image: parts.image,
    pagesImage: parts.pagesImage,
    newFileId: parts.newFileId,
    addFile: (entry) => parts.image("files.img", "FILES").append(entry),
    spoolDir: parts.spoolDir,
    progress: parts.progress,
    slot: <T>(slot: DumpSlot<T>) => parts.slots?.get(slot) as T | undefined,
    once: <T>(key: string, fn: () => Promise<T>) => {
      let p = onceResults.get(key) as Promise<T> | undefined;
      if (!p) onceResults.set(key, (p = fn()));
      return p;
    },
    firstTime: (kind: string, id: number) => {
      let ids = seen.get(kind);
      if (!ids) seen.set(kind, (ids = new Set()));
      if (ids.has(id)) return false;
      ids.add(id);
      return true;
    },
    log,
    skip: (file, message) => {
      stats.skipped.push(file);
      log(message ?? `skipped ${whereSkipped(file)} (${file.kind}): ${file.why}`);
    },
  };
}
