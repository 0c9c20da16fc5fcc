/**
 * MEMFD: memfd_create(2) files (and any other file on the kernel's internal
 * shmem mount, which is how CRIU's memfd.c recognises them).
 *
 * files.img gets memfd_file_entry {id, flags, pos, fown, inode_id}; each
 * inode is saved once per dump as memfd_inode_entry in memfd.img {name,
 * uid, gid, size, shmid (the inode number), seals, inode_id (1, 2... per
 * dump), mode} after its contents, which go to pagemap-shmem-<shmid>.img +
 * pages-<id>.img as CRIU writes them (memfd-pages.ts). Restore:
 * memfd-restore.ts.
 */
import { closeSync, fstatSync } from "node:fs";
import type { DumpContext } from "../contract/dump-context.js";
import { type MemfdFileEntry, type MemfdInodeEntry, MemfdFileEntrySchema } from "../images/schema/types.js";
import { F_GET_SEALS, fcntl } from "../kernel/index.js";
import type { RestorableFdKind, TaskFd } from "../contract/fd-kind.js";
import { isReg } from "./file-mode.js";
import { readFown } from "./fown.js";
import { pathField, stripDeleted } from "./link-path.js";
import { dumpShmemPages } from "./memfd-pages.js";
import { fromMessage, toMessage } from "./message.js";
import { restoreMemfd } from "./memfd-restore.js";
import { fileFlags } from "../kernel/index.js";
import { nextNumber } from "./per-dump.js";
import { memfdCreate } from "../kernel/index.js";
import { loseOrThrow, unsupported } from "./unsupported.js";

const MEMFD_PREFIX = Buffer.from("/memfd:");

let shmemDevice: bigint | undefined;

/** st_dev of files on the kernel's internal shmem mount (CRIU's kdat.shmem_dev), learnt from a memfd of our own. */
export function shmemDev(): bigint {
  if (shmemDevice === undefined) {
    const fd = memfdCreate("crtool-shmem-dev");
    try {
      shmemDevice = fstatSync(fd, { bigint: true }).dev;
    } finally {
      closeSync(fd);
    }
  }
  return shmemDevice;
}

function hasMemfdName(fd: TaskFd): boolean {
  return fd.link.kind === "path" && Buffer.from(fd.linkBytes).subarray(0, MEMFD_PREFIX.length).equals(MEMFD_PREFIX);
}

/**
 * A memfd: a regular file on the shmem device, or an unlinked "/memfd:..."
 * (hugetlb memfds live on a hugetlbfs instance; they are recognised here so
 * dump can refuse them rather than REG reopening a path that never existed).
 */
export function looksLikeMemfd(fd: TaskFd): boolean {
  if (fd.link.kind !== "path" || !isReg(fd.stat.mode)) return false;
  if (fd.stat.dev === shmemDev()) return true;
  return hasMemfdName(fd) && fd.link.deleted && fd.stat.nlink === 0;
}

/** memfd_create's name: the link without "/memfd:" and " (deleted)". */
function memfdName(fd: TaskFd): Uint8Array {
  const name = stripDeleted(fd.linkBytes);
  return hasMemfdName(fd) ? name.subarray(MEMFD_PREFIX.length) : name;
}

export const memfdKind: RestorableFdKind = {
  type: "MEMFD",
  field: "memfd",
  detect: looksLikeMemfd,
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const lfd = ctx.grab(fd);
    if (fd.stat.dev !== shmemDev()) throw unsupported(fd, "MEMFD", "hugetlb memfds are not supported");
    const flags = fileFlags(fd.fdinfo.flags);
    const inodeId = await ctx.once(`memfd:${fd.stat.dev}:${fd.stat.ino}`, async () => {
      const n = nextNumber(ctx, "memfd-inode");
      await dumpInode(fd, lfd, n, ctx);
      return n;
    });
    const entry: MemfdFileEntry = { id, flags, pos: fd.fdinfo.pos, fown: readFown(lfd, flags), inode_id: inodeId };
    return toMessage(entry);
  },
  restore(message, id, ctx) {
    return restoreMemfd(fromMessage(MemfdFileEntrySchema, message), id, ctx);
  },
};

async function dumpInode(fd: TaskFd, lfd: number, inodeId: number, ctx: DumpContext): Promise<void> {
  const st = fstatSync(lfd, { bigint: true });
  // CRIU keeps the inode number in a u32 and uses it as the shmid (the same id mappings of it get).
  const shmid = Number(st.ino & 0xffffffffn);
  await dumpShmemPages(ctx, lfd, shmid, st.size);
  const entry: MemfdInodeEntry = {
    name: pathField(memfdName(fd)),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: st.size,
    shmid,
    seals: fcntl(lfd, F_GET_SEALS),
    inode_id: BigInt(inodeId),
    mode: Number(st.mode),
  };
  ctx.image("memfd.img", "MEMFD_INODE").append(toMessage(entry));
}
