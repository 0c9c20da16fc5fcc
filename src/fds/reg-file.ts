/**
 * REG: files opened by path — regular files, directories, O_PATH symlinks,
 * and the character devices CRIU reopens by name (/dev/null, /dev/zero,
 * /dev/urandom... of the mem driver, and /dev/autofs). Not memfds, FIFOs or
 * ttys, which have their own kinds (FIFO and TTY reuse dumpRegFile for the
 * path entry they point at).
 *
 * reg_file_entry as files-reg.c dump_one_reg_file writes it: flags as the
 * kernel reports them (O_LARGEFILE included, O_CLOEXEC not), pos, fown, the
 * path as /proc shows it, mode, and for regular files the size (except for
 * write-only O_APPEND files, whose size CRIU does not check) plus the ELF
 * build-id when there is one. mnt_id is written by CRIU only when the task
 * has its own mount namespace, which crtool does not dump, so never here.
 */
import { existsSync, fstatSync, lstatSync, statSync, type BigIntStats } from "node:fs";
import type { DumpContext } from "../contract/dump-context.js";
import { type RegFileEntry, RegFileEntrySchema } from "../images/schema/types.js";
import type { RestorableFdKind, TaskFd } from "../contract/fd-kind.js";
import { BUILD_ID_WINDOW, buildIdWords, findBuildId, isElf } from "./build-id.js";
import { major, minor } from "./dev.js";
import { isChr, isDir, isLnk, isReg } from "./file-mode.js";
import { readFown } from "./fown.js";
import { dumpGhost } from "./ghost-file.js";
import { fsPath, pathField, stripDeleted } from "./link-path.js";
import { fromMessage, toMessage } from "./message.js";
import { looksLikeMemfd } from "./memfd.js";
import { isPseudoFs, mountsOf, type Mount } from "./mountinfo.js";
import { O_ACCMODE, O_APPEND, O_WRONLY, fileFlags } from "../kernel/index.js";
import { preadFully, withReopened } from "./reopen.js";
import { restoreRegFile } from "./reg-file-restore.js";
import { loseOrThrow, unsupported } from "./unsupported.js";

const MEM_MAJOR = 1;
const MISC_MAJOR = 10;
const AUTOFS_MINOR = 235;
const KMSG_MINOR = 11;

/** Character devices CRIU dumps as REG (files.c dump_chrdev): the mem driver, and autofs's misc device. */
export function isRegCharDevice(rdev: bigint): boolean {
  const ma = major(rdev);
  return ma === MEM_MAJOR || (ma === MISC_MAJOR && minor(rdev) === AUTOFS_MINOR);
}

export const regFileKind: RestorableFdKind = {
  type: "REG",
  field: "reg",
  detect(fd: TaskFd): boolean {
    if (fd.link.kind !== "path") return false;
    const mode = fd.stat.mode;
    if (isChr(mode)) return isRegCharDevice(fd.stat.rdev);
    return (isReg(mode) || isDir(mode) || isLnk(mode)) && !looksLikeMemfd(fd);
  },
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    return toMessage(await dumpRegFile(fd, id, ctx, "REG"));
  },
  restore(message, id, ctx) {
    return restoreRegFile(fromMessage(RegFileEntrySchema, message), id, ctx);
  },
};

/**
 * reg_file_entry for the path `fd` was opened by, with a ghost file saved
 * first when the file is unlinked. `kind` names the caller in errors.
 */
export async function dumpRegFile(fd: TaskFd, id: number, ctx: DumpContext, kind: string): Promise<RegFileEntry> {
  const lfd = ctx.grab(fd);
  // Taken before anything reads the file: a ghost keeps the times the task left (as CRIU's fill_fd_params stat).
  const st = fstatSync(lfd, { bigint: true });
  const flags = fileFlags(fd.fdinfo.flags);
  const mount = mountsOf(ctx, fd.pid).find((m) => m.mountId === fd.fdinfo.mntId);
  const name = linkName(fd);
  if (name[0] !== 0x2f) throw unsupported(fd, kind, `the path ${JSON.stringify(Buffer.from(name).toString())} is not absolute`);

  const entry: RegFileEntry = {
    id,
    flags,
    pos: regPos(fd, flags),
    fown: readFown(lfd, flags),
    name: pathField(name),
    mode: fd.stat.mode,
  };
  if (isReg(fd.stat.mode) && shouldCheckSize(flags)) {
    entry.size = fd.stat.size;
    const words = readBuildId(fd, lfd, mount, ctx, kind);
    if (words) entry.build_id = words;
  }
  // Last, as it writes images (ghost contents, remap-fpath): a refusal above leaves nothing behind.
  await checkPath(fd, id, lfd, st, name, mount, ctx, kind);
  return entry;
}

/**
 * The path in the fd's link without the " (deleted)" the kernel appends to
 * an unlinked file's; but a file still linked whose name really ends in
 * " (deleted)" (the same file is found under the whole text) keeps it.
 */
function linkName(fd: TaskFd): Uint8Array {
  const stripped = stripDeleted(fd.linkBytes);
  if (stripped.length === fd.linkBytes.length || fd.stat.nlink === 0) return stripped;
  const whole = isLnk(fd.stat.mode)
    ? lstatSync(fsPath(fd.linkBytes), { bigint: true, throwIfNoEntry: false })
    : statSync(fsPath(fd.linkBytes), { bigint: true, throwIfNoEntry: false });
  return whole && whole.ino === fd.stat.ino && whole.dev === fd.stat.dev ? fd.linkBytes : stripped;
}

/**
 * CRIU quirk (get_mem_dev_ops): /dev/kmsg opened write-only at offset 0 gets
 * pos -1, because the kernel refuses to seek it on restore.
 */
function regPos(fd: TaskFd, flags: number): bigint {
  const kmsg = isChr(fd.stat.mode) && major(fd.stat.rdev) === MEM_MAJOR && minor(fd.stat.rdev) === KMSG_MINOR;
  if (kmsg && (flags & O_ACCMODE) === O_WRONLY && fd.fdinfo.pos === 0n) return 0xffffffffffffffffn;
  return fd.fdinfo.pos;
}

/** files-reg.c should_check_size: write-only append files (logs) may grow before restore. */
export function shouldCheckSize(flags: number): boolean {
  return !((flags & O_ACCMODE) === O_WRONLY && (flags & O_APPEND));
}

/**
 * files-reg.c check_path_remap: is the path still this file? Unlinked files
 * (nlink 0) become ghost files. Files that are still linked elsewhere but
 * not under this name need a "linked remap", a new hard link CRIU creates in
 * the file system; crtool does not modify the file system, so it refuses.
 */
async function checkPath(
  fd: TaskFd, id: number, lfd: number, st: BigIntStats, name: Uint8Array, mount: Mount | undefined, ctx: DumpContext, kind: string,
): Promise<void> {
  const path = Buffer.from(name).toString();
  if (mount?.fsType === "proc") {
    // A file of a process that has exited: CRIU keeps a helper process alive on restore (dead-pid remap).
    const m = /^\/proc\/(\d+)(\/|$)/.exec(path);
    const deleted = fd.link.kind === "path" && fd.link.deleted;
    if (m && (deleted || !existsSync(`/proc/${m[1]}`))) {
      throw unsupported(fd, kind, `${path} belongs to process ${m[1]}, which has exited (CRIU restores it through a dead-process helper; crtool does not)`);
    }
    return;
  }
  // devpts names are made by the kernel; nothing to check or save.
  if (mount?.fsType === "devpts") return;

  if (fd.stat.nlink === 0) {
    await dumpGhost(fd, id, lfd, st, mount, ctx, kind);
    return;
  }
  let now: BigIntStats;
  try {
    now = isLnk(fd.stat.mode) ? lstatSync(fsPath(name), { bigint: true }) : statSync(fsPath(name), { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw unsupported(fd, kind, `${path} was unlinked but the file has ${fd.stat.nlink} other link(s); saving it needs a new hard link in the file system (CRIU's linked remap), which crtool does not create`);
    }
    throw e;
  }
  if (now.ino !== fd.stat.ino || now.dev !== fd.stat.dev) {
    throw unsupported(fd, kind, `${path} now names another file than the one open (inode ${now.ino}, not ${fd.stat.ino})`);
  }
}

/** build_id words for an ELF file, undefined for others (and for files on pseudo file systems, never read). */
function readBuildId(fd: TaskFd, lfd: number, mount: Mount | undefined, ctx: DumpContext, kind: string): number[] | undefined {
  if (fd.stat.size < 5n || isPseudoFs(mount?.fsType)) return undefined;
  const window = Number(fd.stat.size < BigInt(BUILD_ID_WINDOW) ? fd.stat.size : BigInt(BUILD_ID_WINDOW));
  let head: Uint8Array | undefined;
  try {
    // Most files are not ELF: look at the magic before reading the window.
    head = withReopened(lfd, (rfd) => (isElf(preadFully(rfd, 0, 5)) ? preadFully(rfd, 0, window) : undefined));
  } catch (e) {
    loseOrThrow(ctx, fd, kind, `cannot read the file for its build-id: ${(e as Error).message}`);
    return undefined;
  }
  const id = head && findBuildId(head);
  return id ? buildIdWords(id) : undefined;
}
