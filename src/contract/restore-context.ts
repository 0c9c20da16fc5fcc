/**
 * What an fd kind may use while restoring: the dump's images, the other
 * files of the dump (restored on demand, for kinds that refer to others),
 * and rollback registration so that a failed restore leaves nothing behind.
 */
import type { ImageMessage } from "../images/wire/message.js";
import type { Payload } from "../images/payloads/layout.js";
import type { ImageReader } from "../images/image-reader.js";

export interface RestoreOptions {
  skipUnsupported: boolean;
  verbose: boolean;
  /**
   * Per-CPU map values recorded on a machine with another possible-CPU
   * count: refuse ("error", the default) or drop the CPUs this machine lacks
   * and start the ones it has extra at zero.
   */
  cpuMismatch?: "error" | "truncate-or-zero-fill";
  /** restore --upgrade-to: the maps as a new BPF object defines them (an UpgradeTarget of src/bpf/restore/upgrade.ts). */
  upgrade?: unknown;
}

/** One entry of an image, with its payload if the image carries one. */
export interface LoadedEntry {
  message: ImageMessage;
  payload?: Payload;
}

export interface RestoreContext {
  readonly options: RestoreOptions;
  /** The dump directory. */
  readonly dir: string;
  /** The process whose fd table is being restored. */
  readonly pid: number;
  /** Every entry of a (small) image of the dump, payloads included; undefined if the image does not exist. */
  loadImage(fileName: string): Promise<LoadedEntry[] | undefined>;
  /**
   * Opens a (possibly large) image for streaming or positional reads, e.g.
   * bpfmap-data.img; undefined if it does not exist. The caller closes it.
   */
  openImage(fileName: string): Promise<{ reader: ImageReader; path: string } | undefined>;
  /** The files.img entry with this id. */
  fileEntry(id: number): ImageMessage | undefined;
  /**
   * crtool's fd of another open file of the dump, restored first if needed
   * (an epoll's targets, a FIFO's path entry...).
   */
  restoreFile(id: number): Promise<number>;
  /** The file id the target process had at fd number `fd`, if any (epoll targets are recorded by fd number). */
  fileIdOfFd(fd: number): number | undefined;
  /** Registers an undo step run if the restore fails (in reverse order). */
  onRollback(undo: () => void): void;
  /** Runs `fn` once per key in this restore and returns its result every time. */
  once<T>(key: string, fn: () => Promise<T>): Promise<T>;
  log(message: string): void;
  /**
   * Hands an epoll item to the launch of the restored command, to be added
   * there under the command's own fd numbers (absent when nothing is launched).
   */
  deferEpollItem?(item: DeferredEpoll): void;
}

/** An epoll item crtool could not add under the task's fd number (see eventpoll-restore.ts). */
export interface DeferredEpoll {
  /** crtool's fd of the epoll. */
  epoll: number;
  /** crtool's fd of the target. */
  target: number;
  /** The task's fd number of the target. */
  tfd: number;
  events: number;
  data: bigint;
  /** Adds it in crtool under crtool's own numbers instead. */
  addFromCrtool(): void;
}

/** A RestoreContext without its per-restore memo: what its maker (the restore, a test) knows. */
export type RestoreContextParts = Omit<RestoreContext, "once">;

/**
 * The one way a RestoreContext is made: the per-restore memo (`once`) is the
 * same for every maker, who may ask whether a key was used (`started`).
 */
export function createRestoreContext(parts: RestoreContextParts): RestoreContext & { started(key: string): boolean } {
  const results = new Map<string, Promise<unknown>>();
  return {
    ...parts,
    started: (key) => results.has(key),
    once: <T>(key: string, fn: () => Promise<T>) => {
      let p = results.get(key) as Promise<T> | undefined;
      if (!p) results.set(key, (p = fn()));
      return p;
    },
  };
}
