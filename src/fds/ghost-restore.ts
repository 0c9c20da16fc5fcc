/**
 * Ghost files on restore: the unlinked file ghost-file-<id>.img saved is made
 * again, once per ghost id, as a file without a name — O_TMPFILE in the
 * directory it was in (so it lands on the same file system), or, where the
 * file system has no O_TMPFILE, a new file named as CRIU names its ghosts
 * ("<path>.cr.<id>.ghost") and unlinked at once. Its contents (one run of
 * bytes, or chunks with holes left as holes), owner, mode and times come
 * from the image.
 *
 * Each open file of it is then opened by its recorded path with its recorded
 * flags, as CRIU does: the inode gets that name for a moment (linkat of
 * /proc/self/fd/N), is opened, and the name is removed again, so /proc shows
 * "<path> (deleted)" as before. When the name is taken by another file, the
 * open goes through /proc/self/fd instead and the link shows the ghost's
 * own name (logged).
 */
import { closeSync, fchmodSync, fchownSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { RestoreContext } from "../contract/restore-context.js";
import { ImageReader } from "../images/image-reader.js";
import { ImageFormatError } from "../images/errors.js";
import { type GhostChunkEntry, type GhostFileEntry, GhostChunkEntrySchema, GhostFileEntrySchema } from "../images/schema/types.js";
import { isErrno } from "../kernel/index.js";
import { ghostImageName } from "./ghost-file.js";
import { fileType, isReg } from "./file-mode.js";
import { fromMessage } from "./message.js";
import { O_DIRECTORY, O_RDWR } from "../kernel/index.js";
import { cannotRestore } from "./restore-errors.js";
import { OwnedFd, fsCall, openPath, reopenFd } from "./restore-fd.js";
import { SharedFile } from "./shared-file.js";
import { AT_SYMLINK_FOLLOW, futimens, linkat } from "../kernel/index.js";

const O_TMPFILE = 0o20000000 | O_DIRECTORY;
const O_CREAT = 0o100;
const O_EXCL = 0o200;

/** Opens file `id`, whose recorded path `path` named ghost `ghostId`, with `flags` (already cleaned for open). */
export async function openGhost(path: Uint8Array, flags: number, ghostId: number, id: number, ctx: RestoreContext): Promise<{ fd: number; ghost: SharedFile }> {
  const ghost = await ctx.once(`ghost:${ghostId}`, () => makeGhost(path, ghostId, id, ctx));
  return { fd: openByName(ghost.fd, path, flags, id, ctx), ghost };
}

/** Gives the nameless inode its recorded name just long enough to open it by that name. */
function openByName(anchor: number, path: Uint8Array, flags: number, id: number, ctx: RestoreContext): number {
  const name = Buffer.from(path);
  try {
    linkat(`/proc/self/fd/${anchor}`, name, AT_SYMLINK_FOLLOW);
  } catch (e) {
    // EEXIST: the name is another file's now; ENOENT: an unlinked file that was not made by O_TMPFILE cannot be linked.
    ctx.log(`file ${id} (REG): ghost not opened by its name ${name.toString()} (${(e as Error).message}); its /proc link will differ`);
    return reopenFd(anchor, flags);
  }
  try {
    return openPath(path, flags);
  } finally {
    fsCall(`removing the temporary name ${name.toString()} of a ghost file`, () => unlinkSync(name));
  }
}

async function makeGhost(path: Uint8Array, ghostId: number, id: number, ctx: RestoreContext): Promise<SharedFile> {
  const imagePath = join(ctx.dir, ghostImageName(ghostId));
  const imageFd = fsCall(imagePath, () => openSync(imagePath, "r"));
  try {
    const reader = await ImageReader.open(chunksOf(imageFd), { name: imagePath });
    const head = await reader.next();
    if (!head) throw new ImageFormatError(`${imagePath}: no ghost_file_entry`);
    const gfe = fromMessage(GhostFileEntrySchema, head.message);
    if (!isReg(gfe.mode)) {
      throw cannotRestore(id, "REG", `its file was unlinked and is not a regular file (mode 0o${gfe.mode.toString(8)}, type 0o${fileType(gfe.mode).toString(8)}); crtool re-creates only regular ghost files`);
    }
    const own = createUnlinked(path, ghostId, ctx);
    try {
      if (gfe.chunks) await writeChunks(reader, own.fd, gfe, imagePath);
      else await writeRun(reader, own.fd, 0);
      // Owner and mode after the contents (a read-only mode must not stop our writes), times last (writing sets mtime).
      fsCall(`ghost ${ghostId}: fchown`, () => fchownSync(own.fd, gfe.uid, gfe.gid));
      fsCall(`ghost ${ghostId}: fchmod`, () => fchmodSync(own.fd, gfe.mode & 0o7777));
      if (gfe.atim && gfe.mtim) futimens(own.fd, timevalNs(gfe.atim), timevalNs(gfe.mtim));
    } catch (e) {
      own.close();
      throw e;
    }
    return new SharedFile(own, `ghost file ${ghostId}`);
  } finally {
    closeSync(imageFd);
  }
}

function timevalNs(t: { tv_sec: bigint; tv_usec: bigint }): bigint {
  return t.tv_sec * 1_000_000_000n + t.tv_usec * 1000n;
}

/** A new regular file with no name, in the directory of `path`. */
function createUnlinked(path: Uint8Array, ghostId: number, ctx: RestoreContext): OwnedFd {
  const slash = path.lastIndexOf(0x2f);
  const dir = Buffer.from(slash <= 0 ? Uint8Array.of(0x2f) : path.subarray(0, slash));
  try {
    return new OwnedFd(fsCall(`creating ghost ${ghostId} in ${dir.toString()}`, () => openSync(dir, O_TMPFILE | O_RDWR, 0o600)), ctx);
  } catch (e) {
    // EOPNOTSUPP: no O_TMPFILE on this file system; EISDIR/EINVAL: kernels that do not know the flag.
    if (!isErrno(e, "EOPNOTSUPP") && !isErrno(e, "EISDIR") && !isErrno(e, "EINVAL")) throw e;
  }
  const name = Buffer.concat([Buffer.from(path), Buffer.from(`.cr.${ghostId.toString(16)}.ghost`)]);
  const fd = new OwnedFd(openPath(name, O_RDWR | O_CREAT | O_EXCL, 0o600), ctx);
  try {
    fsCall(`unlinking ghost ${name.toString()}`, () => unlinkSync(name));
  } catch (e) {
    fd.close();
    throw e;
  }
  return fd;
}

/** The rest of the image (a ghost without chunks) written from `offset` on. */
async function writeRun(reader: ImageReader, fd: number, offset: number): Promise<number> {
  let at = offset;
  for await (const piece of reader.payloadPieces()) {
    writeAll(fd, piece, at);
    at += piece.length;
  }
  return at - offset;
}

/** ghost_chunk_entry + bytes per data run; the file is sized first so that holes stay holes. */
async function writeChunks(reader: ImageReader, fd: number, gfe: GhostFileEntry, imagePath: string): Promise<void> {
  if (gfe.size === undefined) throw new ImageFormatError(`${imagePath}: chunked ghost file without a size`);
  ftruncateSync(fd, Number(gfe.size));
  for (;;) {
    const head = await reader.next();
    if (!head) return;
    const chunk = fromMessage(GhostChunkEntrySchema, head.message);
    const n = await writeRun(reader, fd, Number(chunk.off));
    if (BigInt(n) !== chunk.len) throw new ImageFormatError(`${imagePath}: chunk at ${chunk.off} has ${n} bytes, ${chunk.len} announced`);
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/** The image file in pieces, read on demand; the caller closes the fd. */
async function* chunksOf(fd: number): AsyncGenerator<Uint8Array> {
  for (;;) {
    const buf = new Uint8Array(1 << 20);
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) return;
    yield buf.subarray(0, n);
  }
}
