/**
 * Restoring a REG entry as CRIU's files-reg.c open_path + do_open_reg do:
 * open the recorded path with the recorded flags (never creating or
 * truncating), check it is the file that was dumped, seek, set fown.
 *
 * The check is CRIU's validate_file: the size when one was recorded (not
 * for write-only O_APPEND files, which may grow), the ELF build-id when one
 * was recorded and the file can be read, and the whole st_mode (type and
 * permissions). A difference is a FileChangedError: CRIU refuses such a
 * file, and crtool does too, rather than give the process other contents.
 *
 * An unlinked file (remap-fpath.img, GHOST) is re-created from its ghost
 * image (ghost-restore.ts); the other remaps CRIU writes (a hard link it
 * made in the file system, a dead process's /proc files) crtool never
 * writes and cannot restore.
 */
import { fstatSync } from "node:fs";
import type { RestoreContext } from "../contract/restore-context.js";
import { type RegFileEntry, type RemapFilePathEntry, RemapFilePathEntrySchema } from "../images/schema/types.js";
import { BUILD_ID_WINDOW, buildIdWords, findBuildId } from "./build-id.js";
import { restoreFown } from "./fown.js";
import { openGhost } from "./ghost-restore.js";
import { pathBytes } from "./link-path.js";
import { fromMessage } from "./message.js";
import { O_PATH } from "../kernel/index.js";
import { preadFully, withReopened } from "./reopen.js";
import { FileChangedError, cannotRestore } from "./restore-errors.js";
import { finishFd, openFlags, openPath, seekTo, setStatusFlags } from "./restore-fd.js";

const REMAP_LINKED = 0;
const REMAP_GHOST = 1;
const REMAP_PROCFS = 2;
/** Before remap_type existed, CRIU marked ghost remaps with this bit of remap_id. */
const OLD_GHOST_BIT = 0x80000000;
const O_ASYNC = 0o20000;

/** The remap-fpath.img entry of file `id`, if its path was remapped at dump. */
export async function remapOf(ctx: RestoreContext, id: number): Promise<RemapFilePathEntry | undefined> {
  const entries = (await ctx.loadImage("remap-fpath.img")) ?? [];
  const e = entries.find((x) => x.message.orig_id === id);
  return e && fromMessage(RemapFilePathEntrySchema, e.message);
}

/** The remap's type and ghost id, read the way CRIU reads images from before remap_type. */
function remapTarget(remap: RemapFilePathEntry): { type: number; remapId: number } {
  if (remap.remap_type !== undefined) return { type: remap.remap_type, remapId: remap.remap_id };
  const ghost = (remap.remap_id & OLD_GHOST_BIT) !== 0;
  return { type: ghost ? REMAP_GHOST : REMAP_LINKED, remapId: (remap.remap_id & ~OLD_GHOST_BIT) >>> 0 };
}

/** Opens the REG file `reg` (file `id`) with its flags, offset and owner. */
export async function restoreRegFile(reg: RegFileEntry, id: number, ctx: RestoreContext): Promise<{ fd: number }> {
  const kind = "REG";
  const path = pathBytes(reg.name);
  const shown = Buffer.from(path).toString();
  checkRestorablePath(path, shown, id, kind, ctx);
  if (reg.ext) throw cannotRestore(id, kind, `${shown} is an external file (CRIU's --ext-file), which crtool cannot supply`);
  if (reg.mnt_id !== undefined) {
    throw cannotRestore(id, kind, `${shown} was recorded in a mount namespace of its own (mnt_id ${reg.mnt_id}); crtool opens paths in its own mount namespace`);
  }
  const flags = openFlags(reg.flags);
  const remap = await remapOf(ctx, id);
  let fd: number;
  let handedOut: ((fd: number) => void) | undefined;
  if (remap) {
    const { type, remapId } = remapTarget(remap);
    if (type !== REMAP_GHOST) {
      const what = type === REMAP_PROCFS ? "a /proc file of a process that had exited" : type === REMAP_LINKED ? "an unlinked file CRIU saved through a new hard link" : `remap type ${type}`;
      throw cannotRestore(id, kind, `${shown} is ${what}; crtool restores only ghost-file remaps`);
    }
    const ghost = await openGhost(path, flags, remapId, id, ctx);
    fd = ghost.fd;
    handedOut = (f) => ghost.ghost.handedOut(f);
  } else {
    fd = openPath(path, flags);
  }
  const restored = await finishFd(fd, () => {
    checkSameFile(fd, reg, id, kind, shown, ctx);
    if (flags & O_PATH) return;
    // open(2) ignores O_ASYNC; only F_SETFL sets it.
    if (flags & O_ASYNC) setStatusFlags(fd, flags);
    seekTo(fd, reg.pos, `file ${id} (${kind})`);
    restoreFown(fd, reg.fown, flags, ctx, id, kind);
  });
  handedOut?.(restored.fd);
  return restored;
}

/**
 * Paths crtool can open again as they are: absolute ones (crtool's working
 * directory is not the task's), and not in /proc/<pid> of the dumped process
 * itself — the restored fds go to a process with another pid, and the old
 * number may belong to some other process by now.
 */
export function checkRestorablePath(path: Uint8Array, shown: string, id: number, kind: string, ctx: RestoreContext): void {
  if (path[0] !== 0x2f) throw cannotRestore(id, kind, `the path ${JSON.stringify(shown)} is not absolute`);
  if (shown === `/proc/${ctx.pid}` || shown.startsWith(`/proc/${ctx.pid}/`)) {
    throw cannotRestore(id, kind, `${shown} is a /proc file of the dumped process itself, whose pid the restored fds do not keep`);
  }
}

/** CRIU's validate_file and mode check on the just-opened file. */
export function checkSameFile(fd: number, reg: RegFileEntry, id: number, kind: string, shown: string, ctx: RestoreContext): void {
  if (reg.size === undefined && reg.mode === undefined) return;
  const st = fstatSync(fd, { bigint: true });
  const what = `file ${id} (${kind}): ${shown}`;
  if (reg.size !== undefined && st.size !== reg.size) {
    throw new FileChangedError(`${what} has ${st.size} bytes, ${reg.size} when it was dumped: not the same file (CRIU refuses it too)`);
  }
  if (reg.size !== undefined && reg.build_id && reg.build_id.length > 0) {
    const now = buildIdOf(fd, Number(st.size));
    if (now === "unreadable") ctx.log(`${what}: build-id not checked (the file cannot be read)`);
    // No build-id found now: CRIU validates with the size alone.
    else if (now && (now.length !== reg.build_id.length || now.some((w, i) => w !== reg.build_id![i]))) {
      throw new FileChangedError(`${what} has another ELF build-id than when it was dumped: not the same binary`);
    }
  }
  if (reg.checksum !== undefined) ctx.log(`${what}: CRIU's checksum validation is not done by crtool`);
  if (reg.mode !== undefined && Number(st.mode) !== reg.mode) {
    throw new FileChangedError(`${what} has mode 0o${Number(st.mode).toString(8)}, 0o${reg.mode.toString(8)} when it was dumped`);
  }
}

/** The build-id words of the file, undefined when it has none. */
function buildIdOf(fd: number, size: number): number[] | undefined | "unreadable" {
  let head: Uint8Array;
  try {
    head = withReopened(fd, (rfd) => preadFully(rfd, 0, Math.min(size, BUILD_ID_WINDOW)));
  } catch {
    return "unreadable";
  }
  const id = findBuildId(head);
  return id ? buildIdWords(id) : undefined;
}
