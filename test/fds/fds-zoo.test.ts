/**
 * The fds-zoo fixture's own workload (src/fds_zoo.c), compiled and run
 * here, dumped fd by fd with crtool's kinds, and compared with what CRIU 4.2
 * wrote for the same fds: every field present in CRIU's entry is present in
 * ours with the same value, except kernel-assigned numbers (inodes, pipe ids,
 * devices), file ids, the scratch directory in paths, and the timer's time
 * left. Also against the live fdinfo, and through Debian's crit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { readFdinfo, readFdLink } from "../../src/kernel/index.js";
import { ioctlRaw } from "../../src/kernel/index.js";
import { peekPipe } from "../../src/fds/pipe-data.js";
import { FD_KINDS_UNDER_TEST } from "./kinds.js";
import {
  HAVE_ZOO, TestDumpContext, Workload, ZOO, compile, critJson, debianCrit, dumpFds, scratch, skipReason, taskFd,
  type CritDocument, type Dumped,
} from "./helpers.js";

const reason = skipReason() ?? (HAVE_ZOO ? undefined : `the fds-zoo fixture is not at ${ZOO} (set CRTOOL_FIXTURES)`);
if (reason) console.warn(`skipping fds-zoo live comparison: ${reason}`);

function golden(name: string): CritDocument {
  return JSON.parse(readFileSync(join(ZOO, "golden", name), "utf8")) as CritDocument;
}

/** Where the fixture's workload ran when CRIU dumped it: the directory of its ro.txt. */
function fixtureCwd(): string {
  const ro = golden("files.img.pretty.json").entries.find((e) => String((e.reg as { name?: string } | undefined)?.name).endsWith("/ro.txt"));
  return dirname(String((ro!.reg as { name: string }).name));
}

const FIXTURE_CWD = HAVE_ZOO ? fixtureCwd() : "";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * A crit entry with what differs by run removed: file ids (the entry's and
 * its message's `id`; the links they make are checked separately), fields
 * holding kernel numbers, and our scratch dir in paths. Deeper `id`s (epoll
 * targets, inotify watches) are CRIU's constant 0 and stay.
 */
function normalize(v: Json, cwd: string, drop: ReadonlySet<string>, depth = 0): Json {
  if (typeof v === "string") return v.split(cwd).join(FIXTURE_CWD);
  if (Array.isArray(v)) return v.map((x) => normalize(x, cwd, drop, depth + 1));
  if (v && typeof v === "object") {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) {
      if (drop.has(k) || (k === "id" && depth <= 1)) continue;
      out[k] = normalize(x, cwd, drop, depth + 1);
    }
    return out;
  }
  return v;
}

/** Fields that hold other ids or kernel-assigned numbers, by name, anywhere in an entry. */
const RUN_SPECIFIC = new Set([
  "regf_id", "inode_id", "pipe_id", "inode", "dev", "i_ino", "s_dev", "handle", "vsec", "vnsec", "shmid", "ino", "atim", "mtim",
]);

describe.skipIf(reason)("fds-zoo workload dumped by crtool vs CRIU 4.2", () => {
  let work: ReturnType<typeof scratch>;
  let zoo: Workload;
  let ctx: TestDumpContext;
  let cwd: string;
  let dumped: Map<number, Dumped>;
  let files: CritDocument;
  const fdOf = new Map<number, number>();

  beforeAll(async () => {
    work = scratch("zoo");
    const bin = compile(join(ZOO, "src", "fds_zoo.c"), work.dir, "fds_zoo");
    cwd = join(work.dir, "data");
    mkdirSync(cwd);
    mkdirSync(join(work.dir, "images"));
    zoo = await Workload.start(bin, cwd, join(work.dir, "program-info.txt"));
    ctx = new TestDumpContext(join(work.dir, "images"));
    // Sockets (11-15) are another kind's.
    const fds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22];
    dumped = await dumpFds(ctx, zoo.pid, fds, FD_KINDS_UNDER_TEST);
    ctx.images.closeAll();
    files = await critJson(ctx.dir, "files.img");
    // The fixture's fd → file id, from its fdinfo-2.img.
    for (const e of golden("fdinfo-2.img.pretty.json").entries) fdOf.set(e.fd as number, e.id as number);
  });

  afterAll(async () => {
    await zoo?.stop();
    ctx?.close();
    work?.cleanup();
  });

  function goldenFile(fd: number): Record<string, Json> {
    const id = fdOf.get(fd);
    const e = golden("files.img.pretty.json").entries.find((x) => x.id === id);
    if (!e) throw new Error(`fixture has no file for fd ${fd}`);
    return e as Record<string, Json>;
  }

  function ourFile(fd: number): Record<string, Json> {
    const id = dumped.get(fd)!.id;
    const e = files.entries.find((x) => x.id === id);
    if (!e) throw new Error(`no files.img entry for fd ${fd}`);
    return e as Record<string, Json>;
  }

  const comparable = [0, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22];
  /** epoll targets come in the kernel's rbtree order (by struct file address): compare them by fd. */
  function byTfd(e: Record<string, Json>): Record<string, Json> {
    const ep = e.epfd as Record<string, Json> | undefined;
    if (!ep) return e;
    const tfd = [...(ep.tfd as Record<string, Json>[])].sort((a, b) => (a.tfd as number) - (b.tfd as number));
    return { ...e, epfd: { ...ep, tfd } };
  }

  it.each(comparable)("fd %i: the same entry as CRIU's, field by field", (fd) => {
    const want = byTfd(goldenFile(fd));
    const got = byTfd(ourFile(fd));
    expect(got.type).toBe(want.type);
    expect(normalize(got, cwd, RUN_SPECIFIC)).toEqual(normalize(want, cwd, RUN_SPECIFIC));
    // Every field CRIU wrote is there, run-specific ones included.
    const field = Object.keys(want).find((k) => k !== "type" && k !== "id")!;
    expect(Object.keys(got[field] as object).sort()).toEqual(Object.keys(want[field] as object).sort());
  });

  it("fds 0-2 share one open file, dumped once", () => {
    expect(dumped.get(1)!.id).toBe(dumped.get(0)!.id);
    expect(dumped.get(2)!.id).toBe(dumped.get(0)!.id);
    expect(files.entries.filter((e) => e.id === dumped.get(0)!.id)).toHaveLength(1);
  });

  it("flags and offsets are the live fdinfo's (without O_CLOEXEC)", () => {
    for (const fd of [3, 4, 5, 6, 21]) {
      const info = readFdinfo(zoo.pid, fd);
      const e = dumped.get(fd)!.entry;
      expect(e.flags).toBe(info.flags & ~0o2000000);
      expect(e.pos).toBe(info.pos);
    }
    const ep = dumped.get(17)!.entry.tfd as Record<string, unknown>[];
    const live = readFdinfo(zoo.pid, 17).epoll!;
    expect(ep.map((t) => [t.tfd, t.events, t.data, t.inode, t.dev])).toEqual(live.map((t) => [t.tfd, t.events, t.data, t.ino, t.sdev]));
    const timer = dumped.get(19)!.entry;
    expect(Number(timer.vsec)).toBeGreaterThan(50);
    expect(Number(timer.vsec)).toBeLessThanOrEqual(60);
    expect(timer.isec).toBe(60n);
  });

  it("the FIFO's REG entry is written before it, with each end's flags", () => {
    for (const fd of [9, 10]) {
      const fifo = ourFile(fd);
      const regId = (fifo.fifo as Record<string, Json>).regf_id;
      const regIndex = files.entries.findIndex((e) => e.id === regId);
      expect(regIndex).toBeGreaterThanOrEqual(0);
      expect(regIndex).toBeLessThan(files.entries.indexOf(fifo));
      const reg = files.entries[regIndex].reg as Record<string, Json>;
      expect(reg.name).toBe(join(cwd, "zoo.fifo"));
      const regWant = golden("files.img.pretty.json").entries.find((e) => e.id === (goldenFile(fd).fifo as Record<string, Json>).regf_id)!;
      expect(normalize(reg, cwd, RUN_SPECIFIC)).toEqual(normalize(regWant.reg as Json, cwd, RUN_SPECIFIC));
    }
  });

  it("pipes-data.img and fifo-data.img: one entry per pipe, CRIU's fields and bytes", async () => {
    for (const [image, fd] of [["pipes-data.img", 7], ["fifo-data.img", 9]] as const) {
      const ours = await critJson(ctx.dir, image);
      const want = golden(`${image}.pretty.json`);
      expect(normalize(ours.entries as Json, cwd, RUN_SPECIFIC)).toEqual(normalize(want.entries as Json, cwd, RUN_SPECIFIC));
      const ino = BigInt(/\[(\d+)\]/.exec(readFdLink(zoo.pid, fd))?.[1] ?? readFdinfo(zoo.pid, fd).ino!);
      expect(ours.entries[0].pipe_id).toBe(Number(ino));
    }
  });

  it("the pipe and the FIFO still hold their bytes, in order, after the dump", () => {
    const FIONREAD = 0x541b;
    for (const [fd, text] of [[7, "0123456789"], [9, "fifo-data-16byte"]] as const) {
      const b = Buffer.alloc(4);
      expect(ioctlRaw(ctx.grabPidFd(zoo.pid, fd), FIONREAD, b)).toBe(0);
      expect(b.readInt32LE(0)).toBe(text.length);
      expect(Buffer.from(peekPipe(taskFd(ctx, zoo.pid, fd), ctx.grabPidFd(zoo.pid, fd)).bytes).toString()).toBe(text);
    }
  });

  it("the ghost file: ghost-file-1.img and remap-fpath.img as CRIU wrote them", async () => {
    const ghost = await critJson(ctx.dir, "ghost-file-1.img");
    const want = golden("ghost-file-1.img.pretty.json");
    expect(normalize(ghost.entries as Json, cwd, RUN_SPECIFIC)).toEqual(normalize(want.entries as Json, cwd, RUN_SPECIFIC));
    expect(Object.keys(ghost.entries[0]).sort()).toEqual(Object.keys(want.entries[0]).sort());
    const remap = await critJson(ctx.dir, "remap-fpath.img");
    expect(remap.entries).toEqual([{ orig_id: dumped.get(6)!.id, remap_id: 1, remap_type: "GHOST" }]);
  });

  it("the memfd: memfd.img, pagemap-shmem and the pages byte for byte", async () => {
    const mem = await critJson(ctx.dir, "memfd.img");
    const want = golden("memfd.img.pretty.json");
    expect(normalize(mem.entries as Json, cwd, RUN_SPECIFIC)).toEqual(normalize(want.entries as Json, cwd, RUN_SPECIFIC));
    const shmid = mem.entries[0].shmid as number;
    expect(shmid).toBe(Number(readFdinfo(zoo.pid, 21).ino));
    const pagemap = await critJson(ctx.dir, `pagemap-shmem-${shmid}.img`);
    expect(pagemap.entries).toEqual(golden("pagemap-shmem-1210.img.pretty.json").entries);
    expect(readFileSync(join(ctx.dir, "pages-1.img")).equals(readFileSync(join(ZOO, "images", "pages-1.img")))).toBe(true);
  });

  it("Debian's crit decodes every image crtool wrote", () => {
    const names = readdirSync(ctx.dir).filter((n) => !n.startsWith("pages-"));
    expect(names.sort()).toEqual(["fifo-data.img", "files.img", "ghost-file-1.img", "memfd.img", expect.stringMatching(/^pagemap-shmem-\d+\.img$/), "pipes-data.img", "remap-fpath.img"]);
    for (const name of names) {
      const doc = debianCrit(ctx.dir, name);
      if (!doc) return;
      expect(doc.entries.length).toBeGreaterThan(0);
    }
    const doc = debianCrit(ctx.dir, "files.img");
    if (doc) expect(doc.entries.length).toBe(files.entries.length);
  });
});
