/**
 * A dumped process's memory, from CRIU's images: pagemap-PID.img lists the
 * runs of pages (vaddr, nr_pages, flags) and names the pages-N.img holding
 * the present ones back to back in pagemap order. Read run by run and
 * chunk by chunk (positional reads), so a pages image of any size is never
 * held whole. Pages flagged PE_PARENT live in a parent dump (incremental
 * dumps) and are left out; so are pages of shared memory (their own
 * pagemap-shmem images).
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { ImageFormatError, IoError, TruncatedImageError } from "../images/errors.js";
import type { ImageMessage } from "../images/wire/message.js";
import { DumpImages } from "./dump-images.js";

const PE_PARENT = 1 << 0;
const PE_PRESENT = 1 << 2;
const PAGE = 4096;

export interface PageRun {
  vaddr: bigint;
  pages: number;
  /** Byte offset of the run's first page in the pages image. */
  offset: number;
}

export interface ProcessMemory {
  pid: number;
  comm: string;
  /** The pages image (pages-N.img) path, when the process has present pages. */
  pagesPath?: string;
  runs: PageRun[];
  /** Bytes of the present pages. */
  bytes: number;
}

function num(v: unknown): number {
  return typeof v === "bigint" ? Number(v) : (v as number);
}

/** Every process of the dump with its present pages (runs in address order as CRIU wrote them). */
export async function dumpedMemory(dir: string): Promise<ProcessMemory[]> {
  const images = await DumpImages.open(dir);
  const out: ProcessMemory[] = [];
  for (const p of await images.processes()) {
    const pid = p.pid as number;
    const core = (await images.load(`core-${pid}.img`))?.[0]?.message;
    const comm = String(((core?.tc as ImageMessage | undefined)?.comm as string | undefined) ?? "");
    const pagemap = await images.load(`pagemap-${pid}.img`);
    if (!pagemap || pagemap.length === 0) {
      out.push({ pid, comm, runs: [], bytes: 0 });
      continue;
    }
    const pagesId = num(pagemap[0].message.pages_id);
    const runs: PageRun[] = [];
    let offset = 0;
    for (const e of pagemap.slice(1)) {
      const m = e.message;
      const flags = num(m.flags ?? 0);
      // CRIU >= 4.2 writes nr_pages (field 5); older dumps compat_nr_pages.
      const pages = num(m.nr_pages ?? m.compat_nr_pages);
      if (!(flags & PE_PRESENT) || flags & PE_PARENT) continue;
      runs.push({ vaddr: BigInt(m.vaddr as bigint | number), pages, offset });
      offset += pages * PAGE;
    }
    const pagesPath = join(dir, `pages-${pagesId}.img`);
    if (runs.length > 0) {
      let size: number;
      try {
        size = statSync(pagesPath).size;
      } catch {
        throw new IoError(`${pagesPath}: missing (pagemap-${pid}.img names it)`);
      }
      if (size < offset) throw new TruncatedImageError(`pagemap-${pid}.img lists ${offset} bytes of pages, pages-${pagesId}.img has ${size}`, { file: pagesPath });
    }
    out.push({ pid, comm, pagesPath, runs, bytes: offset });
  }
  return out;
}

/** The memory of one process; an error naming the dump's processes when it has no such one. */
export async function processMemory(dir: string, pid: number): Promise<ProcessMemory> {
  const all = await dumpedMemory(dir);
  const m = all.find((p) => p.pid === pid);
  if (!m) throw new ImageFormatError(`process ${pid} is not in this dump (it has ${all.map((p) => p.pid).join(", ")})`);
  return m;
}

/**
 * A process's pages, run by run, in chunks: each chunk's address and bytes,
 * with the last `overlap` bytes of the run's previous chunk in front (so a
 * search finds what spans two chunks); `fresh` counts the bytes new to it.
 */
export function* memoryChunks(mem: ProcessMemory, chunkBytes = 1 << 20, overlap = 0): Generator<{ address: bigint; bytes: Buffer; fresh: number }> {
  if (!mem.pagesPath || mem.runs.length === 0) return;
  const fd = openSync(mem.pagesPath, "r");
  try {
    for (const run of mem.runs) {
      const total = run.pages * PAGE;
      let carry = Buffer.alloc(0);
      for (let done = 0; done < total; ) {
        const n = Math.min(chunkBytes, total - done);
        const buf = Buffer.allocUnsafe(carry.length + n);
        carry.copy(buf, 0);
        readFully(fd, buf, carry.length, n, run.offset + done, mem.pagesPath);
        yield { address: run.vaddr + BigInt(done - carry.length), bytes: buf, fresh: n };
        carry = buf.subarray(Math.max(0, buf.length - overlap));
        done += n;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function readFully(fd: number, buf: Buffer, at: number, n: number, position: number, path: string): void {
  for (let got = 0; got < n; ) {
    const r = readSync(fd, buf, at + got, n - got, position + got);
    if (r === 0) throw new TruncatedImageError(`expected ${n} bytes at offset ${position}`, { file: path, offset: position + got });
    got += r;
  }
}
