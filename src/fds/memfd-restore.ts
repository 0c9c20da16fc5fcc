/**
 * Restoring MEMFD entries as CRIU's memfd.c does: each inode (memfd.img,
 * by inode_id) is made once per restore with memfd_create — with
 * MFD_ALLOW_SEALING unless its seals are just F_SEAL_SEAL, which is what a
 * memfd made without that flag has — sized, filled from its pagemap-shmem
 * and pages images, given its owner and mode, and then sealed (after the
 * contents, which a write seal would refuse). Each open file of the inode
 * is a new open through /proc/self/fd with its own flags, except that a
 * read-write one restored first gets memfd_create's fd itself, as CRIU
 * gives it to the first read-write one (an execveat(AT_EMPTY_PATH) of the
 * memfd works on that one).
 */
import { closeSync, fchmodSync, fchownSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { RestoreContext } from "../contract/restore-context.js";
import { ImageFormatError } from "../images/errors.js";
import { type MemfdFileEntry, type MemfdInodeEntry, type PagemapEntry, type PagemapHead, MemfdInodeEntrySchema, PagemapEntrySchema, PagemapHeadSchema } from "../images/schema/types.js";
import { F_ADD_SEALS, fcntl } from "../kernel/index.js";
import { restoreFown } from "./fown.js";
import { pathBytes } from "./link-path.js";
import { fromMessage } from "./message.js";
import { O_ACCMODE, O_RDWR } from "../kernel/index.js";
import { pageSize } from "../kernel/index.js";
import { preadFully } from "./reopen.js";
import { cannotRestore } from "./restore-errors.js";
import { OwnedFd, finishFd, fsCall, openFlags, reopenFd, seekTo, setStatusFlags } from "./restore-fd.js";
import { SharedFile } from "./shared-file.js";
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, memfdCreate } from "../kernel/index.js";

const F_SEAL_SEAL = 1;
const PE_PARENT = 1;
const PE_LAZY = 2;
const PE_PRESENT = 4;
/** Pages copied per read of the pages image. */
const BATCH_PAGES = 256;

/** MEMFD entry `mfe` (file `id`): an open file of its inode with the recorded flags, offset and owner. */
export async function restoreMemfd(mfe: MemfdFileEntry, id: number, ctx: RestoreContext): Promise<{ fd: number }> {
  const inode = await ctx.once(`memfd-inode:${mfe.inode_id}`, () => makeInode(mfe.inode_id, id, ctx));
  let fd = (mfe.flags & O_ACCMODE) === O_RDWR ? inode.takeOwn() : undefined;
  fd ??= reopenFd(inode.fd, openFlags(mfe.flags));
  const restored = await finishFd(fd, (f) => {
    setStatusFlags(f, mfe.flags);
    seekTo(f, mfe.pos, `file ${id} (MEMFD)`);
    restoreFown(f, mfe.fown, mfe.flags, ctx, id, "MEMFD");
  });
  inode.handedOut(restored.fd);
  return restored;
}

async function makeInode(inodeId: number, id: number, ctx: RestoreContext): Promise<SharedFile> {
  const entries = (await ctx.loadImage("memfd.img")) ?? [];
  const found = entries.find((e) => BigInt(e.message.inode_id as bigint) === BigInt(inodeId));
  if (!found) throw new ImageFormatError(`file ${id} (MEMFD): memfd.img has no inode ${inodeId}`);
  const mie = fromMessage(MemfdInodeEntrySchema, found.message);
  if (mie.hugetlb_flag) throw cannotRestore(id, "MEMFD", "hugetlb memfds are not supported");

  const sealable = mie.seals !== F_SEAL_SEAL;
  const own = new OwnedFd(memfdCreate(pathBytes(mie.name), MFD_CLOEXEC | (sealable ? MFD_ALLOW_SEALING : 0)), ctx);
  try {
    if (mie.size > 0n) {
      fsCall(`memfd inode ${inodeId}: ftruncate`, () => ftruncateSync(own.fd, Number(mie.size)));
      await fillFromPages(own.fd, mie, ctx);
    }
    fsCall(`memfd inode ${inodeId}: fchown`, () => fchownSync(own.fd, mie.uid, mie.gid));
    if (mie.mode !== undefined) fsCall(`memfd inode ${inodeId}: fchmod`, () => fchmodSync(own.fd, mie.mode! & 0o7777));
    if (sealable && mie.seals) fcntl(own.fd, F_ADD_SEALS, mie.seals);
  } catch (e) {
    own.close();
    throw e;
  }
  return new SharedFile(own, `memfd inode ${inodeId}`);
}

/**
 * Writes the pages of pagemap-shmem-<shmid>.img back at their offsets (the
 * vaddr of a shmem pagemap is the offset in the file). Pages never written
 * were not saved and stay holes; the last page is cut at the file's size.
 */
async function fillFromPages(fd: number, mie: MemfdInodeEntry, ctx: RestoreContext): Promise<void> {
  const pagemapName = `pagemap-shmem-${mie.shmid}.img`;
  const pagemap = await ctx.loadImage(pagemapName);
  // A memfd whose pages were all holes has no pagemap.
  if (!pagemap || pagemap.length === 0) return;
  const head = fromMessage(PagemapHeadSchema, pagemap[0].message);
  const pagesPath = join(ctx.dir, `pages-${head.pages_id}.img`);
  const ps = pageSize();
  const size = Number(mie.size);
  const pages = fsCall(pagesPath, () => openSync(pagesPath, "r"));
  try {
    let from = 0;
    for (const e of pagemap.slice(1)) {
      const pe = fromMessage(PagemapEntrySchema, e.message);
      const flags = pe.flags ?? (pe.in_parent ? PE_PARENT : PE_PRESENT);
      if (flags & (PE_PARENT | PE_LAZY)) {
        throw new ImageFormatError(`${pagemapName}: pages kept in a parent image or for lazy restore are not supported (incremental dumps)`);
      }
      const count = Number(pe.nr_pages ?? BigInt(pe.compat_nr_pages));
      if (!(flags & PE_PRESENT)) continue;
      for (let p = 0; p < count; p += BATCH_PAGES) {
        const n = Math.min(BATCH_PAGES, count - p);
        const at = Number(pe.vaddr) + p * ps;
        const bytes = preadFully(pages, from, n * ps);
        if (bytes.length < n * ps) throw new ImageFormatError(`${pagesPath}: ends at byte ${from + bytes.length}, ${pagemapName} needs ${from + n * ps}`);
        const keep = Math.max(0, Math.min(bytes.length, size - at));
        for (let done = 0; done < keep; ) done += writeSync(fd, bytes, done, keep - done, at + done);
        from += n * ps;
      }
    }
  } finally {
    closeSync(pages);
  }
}
