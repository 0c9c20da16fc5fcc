/**
 * The interface every fd kind implements, like CRIU's per-type file ops:
 * adding a kind means adding one module to this folder and listing it in
 * ./index.ts. The dump orchestrator (src/checkpoint) finds each fd's kind,
 * works out which fds share one open file (kcmp), and calls `dump` once per
 * open file; `restore` (when present) recreates it.
 */
import type { ImageMessage } from "../images/wire/message.js";
import { FdTypesValues, type FileEntry } from "../images/schema/types.js";
import type { Fdinfo, FdLink, MapFdProbe } from "../kernel/index.js";
import type { DumpContext } from "./dump-context.js";
import type { RestoreContext } from "./restore-context.js";

/** fd_types (fdinfo.proto) by name, as the schema defines them. */
export const FD_TYPE_NUMBERS = FdTypesValues;

/** fd_types names. */
export type FdTypeName = keyof typeof FdTypesValues;

/** One fd of one process as /proc shows it, with stat of the open file. */
export interface TaskFd {
  /** The process (thread-group leader) holding the fd. */
  readonly pid: number;
  readonly fd: number;
  /** readlink(/proc/PID/fd/N), parsed. */
  readonly link: FdLink;
  /** The raw link bytes (paths may be any bytes). */
  readonly linkBytes: Uint8Array;
  readonly fdinfo: Fdinfo;
  /** For a BPF map, what the dump's helper thread already asked the kernel about it, when it did. */
  readonly probe?: MapFdProbe;
  /** FD_CLOEXEC, from the O_CLOEXEC bit of fdinfo `flags`. */
  readonly cloexec: boolean;
  /** fstat() of the open file (taken on crtool's duplicate of it). */
  readonly stat: FileStat;
}

export interface FileStat {
  dev: bigint;
  ino: bigint;
  mode: number;
  rdev: bigint;
  size: bigint;
  nlink: number;
}

export interface FdKind {
  /** The fd_types name this kind writes ("REG", "BPFMAP"...). */
  readonly type: FdTypeName;
  /** The file_entry field that holds this kind's message ("reg", "bpf", "pipe"...). */
  readonly field: Exclude<Extract<keyof FileEntry, string>, "type" | "id">;
  /**
   * For kinds CRIU has no fd type for (BPF programs, links, BTF, perf
   * events), written as EXT files: the kind's name recorded in the
   * ext_file_entry (crtool_ext_file_ext.kind), by which restore finds it.
   */
  readonly extKind?: string;
  /**
   * Kinds that are recorded but cannot be re-created: why. Restore refuses
   * their fds by name with this reason (or leaves them out with
   * --skip-unsupported).
   */
  readonly notRestorable?: string;
  /** True if this kind handles the fd (decided from its /proc link, fdinfo and stat). */
  detect(fd: TaskFd): boolean;
  /**
   * Dumps one open file (called once even when several fds or processes share
   * it), synchronously when it can (a dump may hold tens of thousands of fds). Returns the message for `file_entry[field]`; side images (data,
   * ghost files, map contents...) go through `ctx`. Throws NotSupportedError
   * for a state it cannot save, naming what and why.
   */
  dump(fd: TaskFd, id: number, ctx: DumpContext): ImageMessage | Promise<ImageMessage>;
  /**
   * How restore's messages name open file `id` of this kind, from its
   * file_entry message and the kind's own images, e.g. `BPF program "x" (id 3
   * at dump time, KPROBE)`. Default: the fd type's name.
   */
  describe?(message: ImageMessage, id: number, ctx: RestoreContext): Promise<string>;
}

/** What restoring one open file produced, in crtool's own process. */
export interface RestoredFile {
  /** crtool's fd of the re-created open file; the orchestrator places it at the target's fd numbers. */
  fd: number;
}

/** Fd kinds that can also be restored implement this too. */
export interface RestorableFdKind extends FdKind {
  /**
   * Re-creates the open file described by `message` (this kind's field of a
   * file_entry) with its flags, position and data. Resources it creates that
   * outlive the fd (files, pins) are registered with ctx.onRollback.
   * Throws NotSupportedError naming the file and why when it cannot.
   */
  restore(message: ImageMessage, id: number, ctx: RestoreContext): Promise<RestoredFile>;
  /**
   * Kinds whose open files need others restored first (epoll needs its
   * targets): a larger number restores later. Default 0.
   */
  readonly restoreOrder?: number;
}

export function isRestorable(kind: FdKind): kind is RestorableFdKind {
  return typeof (kind as Partial<RestorableFdKind>).restore === "function";
}
