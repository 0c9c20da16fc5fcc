/**
 * Ghost files: an open file whose last name is gone (nlink 0). Nothing on
 * disk will hold it after the task dies, so its contents go into the dump,
 * as CRIU's files-reg.c dump_ghost_remap does: `ghost-file-<id hex>.img`
 * (ghost_file_entry, then the bytes) once per inode, and one
 * remap-fpath.img entry per open file pointing its REG id at the ghost.
 *
 * Ghost ids count from 1 in each dump. Files of 12 KiB and more are stored
 * in chunks (ghost_chunk_entry + bytes per data run, holes skipped), smaller
 * ones as one run of bytes after the entry, exactly as CRIU decides.
 */
import type { BigIntStats } from "node:fs";
import type { DumpContext } from "../contract/dump-context.js";
import { SyscallError } from "../kernel/index.js";
import type { GhostFileEntry, RemapFilePathEntry } from "../images/schema/types.js";
import type { TaskFd } from "../contract/fd-kind.js";
import { dev32, kdevOf } from "./dev.js";
import { isBlk, isChr, isLnk, isReg } from "./file-mode.js";
import { toMessage } from "./message.js";
import { nextNumber } from "./per-dump.js";
import { preadFully, readPieces, withReopenedAsync } from "./reopen.js";
import { SEEK_DATA, SEEK_HOLE, lseek, lseekRaw } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";
import type { Mount } from "./mountinfo.js";

/** CRIU's GHOST_CHUNKS_THRESH: from this size on, contents are written as chunks. */
export const GHOST_CHUNKS_THRESHOLD = 3 * 4096;

const REMAP_TYPE_GHOST = 1;
const ENXIO = 6;

export function ghostImageName(ghostId: number): string {
  return `ghost-file-${ghostId.toString(16)}.img`;
}

/**
 * Saves the unlinked file behind `lfd` (once per inode) and links file `id`
 * to it in remap-fpath.img. `st` is its fstat from before anything read it
 * (the ghost keeps its times); `mount` is the fd's mount, for the device.
 */
export async function dumpGhost(
  fd: TaskFd, id: number, lfd: number, st: BigIntStats, mount: Mount | undefined, ctx: DumpContext, kind: string,
): Promise<number> {
  const mode = Number(st.mode);
  if (isLnk(mode)) throw unsupported(fd, kind, "an unlinked symlink (O_PATH) needs readlinkat on the fd to save its target");
  // CRIU's phys_stat_resolve_dev: btrfs reports a per-subvolume st_dev, the mount has the superblock's.
  const dev = mount?.fsType === "btrfs" ? mount.sdev : kdevOf(st.dev);

  const ghostId = await ctx.once(`ghost:${dev}:${st.ino}`, async () => {
    const gid = nextNumber(ctx, "ghost");
    await writeGhost(ctx.image(ghostImageName(gid), "GHOST_FILE"), lfd, st, dev);
    return gid;
  });

  const remap: RemapFilePathEntry = { orig_id: id, remap_id: ghostId, remap_type: REMAP_TYPE_GHOST };
  ctx.image("remap-fpath.img", "REMAP_FPATH").append(toMessage(remap));
  return ghostId;
}

async function writeGhost(img: ReturnType<DumpContext["image"]>, lfd: number, st: BigIntStats, dev: number): Promise<void> {
  const mode = Number(st.mode);
  const chunks = isReg(mode) && st.size >= BigInt(GHOST_CHUNKS_THRESHOLD);
  const entry: GhostFileEntry = {
    uid: Number(st.uid),
    gid: Number(st.gid),
    mode,
    dev,
    ino: st.ino,
    // timeval: CRIU keeps microseconds.
    atim: { tv_sec: st.atimeNs / 1_000_000_000n, tv_usec: (st.atimeNs % 1_000_000_000n) / 1000n },
    mtim: { tv_sec: st.mtimeNs / 1_000_000_000n, tv_usec: (st.mtimeNs % 1_000_000_000n) / 1000n },
  };
  if (isChr(mode) || isBlk(mode)) entry.rdev = dev32(st.rdev);
  if (chunks) {
    entry.chunks = true;
    entry.size = st.size;
  }

  if (!isReg(mode)) {
    img.append(toMessage(entry));
    return;
  }
  const size = Number(st.size);
  await withReopenedAsync(lfd, async (rfd) => {
    if (!chunks) {
      img.append(toMessage(entry), preadFully(rfd, 0, size));
      return;
    }
    img.append(toMessage(entry));
    for (const run of dataRuns(rfd, size)) {
      await img.appendStreamed({ len: BigInt(run.len), off: BigInt(run.off) }, readPieces(rfd, run.off, run.len));
    }
  });
}

/**
 * The file's data runs, holes skipped, as CRIU's copy_file_to_chunks finds
 * them with SEEK_DATA/SEEK_HOLE (on crtool's own open file: its offset moves).
 */
export function* dataRuns(fd: number, size: number): Generator<{ off: number; len: number }> {
  let hole = 0;
  while (hole < size) {
    let data = lseekRaw(fd, hole, SEEK_DATA);
    if (data < 0) {
      if (data === -ENXIO) break;
      if (hole !== 0) throw new SyscallError({ syscall: "lseek", errno: -data, detail: `SEEK_DATA from ${hole}` });
      // No SEEK_DATA on this file system: all of it is data.
      data = 0;
      hole = size;
    } else {
      hole = Math.min(lseek(fd, data, SEEK_HOLE), size);
    }
    if (hole > data) yield { off: data, len: hole - data };
  }
}
