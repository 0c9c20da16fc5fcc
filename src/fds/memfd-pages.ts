/**
 * A memfd's contents the way CRIU 4.2 writes them (shmem.c
 * dump_one_memfd_shmem): `pagemap-shmem-<shmid>.img` — a pagemap_head
 * naming a pages image, then one pagemap_entry per run of pages, with the
 * offset in the file as vaddr — and `pages-<id>.img`, the raw pages, a new
 * one per memfd inode. Pages in holes (never written) are skipped, as CRIU's
 * SEEK_DATA/SEEK_HOLE walk skips them; the last page is zero-padded.
 *
 * Raw pages images have no header and their ids are shared with the tasks'
 * memory images, so they come from DumpContext.pagesImage().
 */
import type { DumpContext } from "../contract/dump-context.js";
import type { PagemapEntry, PagemapHead } from "../images/schema/types.js";
import { toMessage } from "./message.js";
import { pageSize } from "../kernel/index.js";
import { preadFully, withReopenedAsync } from "./reopen.js";
import { SEEK_DATA, SEEK_HOLE, lseek, lseekRaw } from "../kernel/index.js";
import { SyscallError } from "../kernel/index.js";

const PE_PRESENT = 4;
const ENXIO = 6;
/** Pages read per write into the pages image. */
const BATCH_PAGES = 256;

/** The page runs CRIU dumps: pages from each SEEK_DATA offset up to the next hole, by page number. */
export function* dataPageRuns(fd: number, nrPages: number, ps: number): Generator<{ first: number; count: number }> {
  let nextData = 0;
  let nextHole = 0;
  let runStart = -1;
  for (let pfn = 0; pfn < nrPages; pfn++) {
    if (pfn >= nextHole) {
      const data = lseekRaw(fd, pfn * ps, SEEK_DATA);
      if (data === -ENXIO) {
        nextData = nextHole = Number.MAX_SAFE_INTEGER;
      } else if (data < 0) {
        throw new SyscallError({ syscall: "lseek", errno: -data, detail: `SEEK_DATA from page ${pfn}` });
      } else {
        nextData = Math.floor(data / ps);
        nextHole = Math.floor(lseek(fd, data, SEEK_HOLE) / ps);
      }
    }
    const present = pfn >= nextData;
    if (present && runStart < 0) runStart = pfn;
    if (!present && runStart >= 0) {
      yield { first: runStart, count: pfn - runStart };
      runStart = -1;
    }
  }
  if (runStart >= 0) yield { first: runStart, count: nrPages - runStart };
}

/** Writes the pagemap and pages of a memfd of `size` bytes (crtool's duplicate `lfd`). */
export async function dumpShmemPages(ctx: DumpContext, lfd: number, shmid: number, size: bigint): Promise<void> {
  if (size === 0n) return;
  const ps = pageSize();
  const nrPages = Number((size + BigInt(ps) - 1n) / BigInt(ps));
  const pages = ctx.pagesImage();
  const pagemap = ctx.image(`pagemap-shmem-${shmid}.img`, "PAGEMAP");
  const head: PagemapHead = { pages_id: pages.id };
  pagemap.append(toMessage(head));

  await withReopenedAsync(lfd, async (fd) => {
    // Collect the runs first: reading moves nothing, but lseek on this fd is ours alone.
    for (const run of [...dataPageRuns(fd, nrPages, ps)]) {
      const entry: PagemapEntry = {
        vaddr: BigInt(run.first) * BigInt(ps),
        compat_nr_pages: 0,
        flags: PE_PRESENT,
        nr_pages: BigInt(run.count),
      };
      pagemap.append(toMessage(entry));
      for (let p = run.first; p < run.first + run.count; p += BATCH_PAGES) {
        const n = Math.min(BATCH_PAGES, run.first + run.count - p);
        const buf = Buffer.alloc(n * ps);
        // Past the end of file a page reads short; the mapping CRIU reads shows zeros there.
        preadFully(fd, p * ps, n * ps).copy(buf);
        await pages.write(buf);
      }
    }
  });
}
