/**
 * Dump → kill → restore → compare on extra_fds.c, the workload of the
 * dump-side edge cases: a chunked ghost file with a hole, a pipe held only
 * by its writer, an epoll whose target moved to another fd, a SIGIO owner,
 * O_PATH, a directory, an ELF binary (build-id checked, and refused when it
 * differs), /dev/kmsg (no seek), and two open files of one sparse memfd.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, fstatSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeImage, encodeImage } from "../../src/images/index.js";
import { NotSupportedError } from "../../src/images/errors.js";
import { fcntl, readFdinfo, write } from "../../src/kernel/index.js";
import { FileChangedError } from "../../src/fds/restore-errors.js";
import { preadFully } from "../../src/fds/reopen.js";
import { SEEK_DATA, SEEK_HOLE, SEEK_SET, lseek } from "../../src/kernel/index.js";
import { Workload, compile, scratch, skipReason, type Dumped } from "./helpers.js";
import { TestRestoreContext, dumpWithTable, fileFlagsOf, linkOf, openFds, ownFdinfo } from "./restore-helpers.js";

const reason = skipReason();
if (reason) console.warn(`skipping extra_fds restore tests: ${reason}`);

const SOURCE = fileURLToPath(new URL("./extra_fds.c", import.meta.url));
const F_GETSIG = 11;
const F_GETOWN = 9;
const SIGUSR2 = 12;
const KEYS = ["big_ghost", "wo_pipe", "epoll", "epoll_added_as", "epoll_target_now", "owned", "opath", "dir", "elf", "kmsg", "memfd_holey", "memfd_holey2"];

describe.skipIf(reason)("extra_fds workload: dump, kill, restore, compare", () => {
  let work: ReturnType<typeof scratch>;
  let cwd: string;
  let dir: string;
  let w: Workload;
  let dumped: Map<number, Dumped>;
  let fdsBefore: number;
  let bigGhostTimes: { atimeNs: bigint; mtimeNs: bigint };
  const live = new Map<number, ReturnType<typeof readFdinfo>>();
  const contexts: TestRestoreContext[] = [];

  beforeAll(async () => {
    fdsBefore = openFds().length;
    work = scratch("restore-extra");
    const bin = compile(SOURCE, work.dir, "extra_fds");
    cwd = join(work.dir, "data");
    dir = join(work.dir, "images");
    mkdirSync(cwd);
    mkdirSync(dir);
    w = await Workload.start(bin, cwd, join(work.dir, "ready.txt"));
    try {
      const fds = KEYS.map((k) => w.num(k));
      for (const fd of fds) live.set(fd, readFdinfo(w.pid, fd));
      bigGhostTimes = statSync(`/proc/${w.pid}/fd/${w.num("big_ghost")}`, { bigint: true });
      dumped = await dumpWithTable(w.pid, fds, dir);
    } finally {
      await w.stop();
    }
  });

  afterAll(() => {
    for (const c of contexts) c.rollback();
    work?.cleanup();
    expect(openFds().length).toBe(fdsBefore);
  });

  async function context(imagesDir = dir, skipUnsupported = false): Promise<TestRestoreContext> {
    const c = await TestRestoreContext.open(imagesDir, w.pid);
    c.options.skipUnsupported = skipUnsupported;
    contexts.push(c);
    return c;
  }

  it("a chunked ghost with a hole: contents, hole, size, mode, times (to the microsecond) and offset", async () => {
    const g = await (await context()).restoreFd(w.num("big_ghost"));
    const st = fstatSync(g, { bigint: true });
    expect([st.size, st.mode, st.nlink]).toEqual([40960n, 0o100640n, 0n]);
    expect(preadFully(g, 0, 8192).equals(Buffer.alloc(8192, "h"))).toBe(true);
    expect(preadFully(g, 8192, 24576).equals(Buffer.alloc(24576))).toBe(true);
    expect(preadFully(g, 32768, 8192).equals(Buffer.alloc(8192, "t"))).toBe(true);
    expect(ownFdinfo(g).pos).toBe(123n);
    // A hole again, not 24 KiB of written zeros (probing moves the offset: put it back).
    expect([lseek(g, 0, SEEK_HOLE), lseek(g, 8192, SEEK_DATA)]).toEqual([8192, 32768]);
    lseek(g, 123, SEEK_SET);
    expect(st.mtimeNs / 1000n).toBe(bigGhostTimes.mtimeNs / 1000n);
    expect(st.atimeNs / 1000n).toBe(bigGhostTimes.atimeNs / 1000n);
    expect(linkOf(g)).toBe(`${join(cwd, "big-ghost.bin")} (deleted)`);
  });

  it("a pipe held only by its writer: the writer gets EPIPE, as the task's did", async () => {
    const p = await (await context()).restoreFd(w.num("wo_pipe"));
    expect(fileFlagsOf(p)).toBe(1);
    expect(() => write(p, Buffer.from("x"))).toThrow(/EPIPE/);
  });

  it("an epoll whose target moved to another fd watches the moved-to file", async () => {
    const c = await context();
    const ep = await c.restoreFd(w.num("epoll"));
    const target = await c.restoreFd(w.num("epoll_target_now"));
    const [t] = ownFdinfo(ep).epoll!;
    expect([t.ino, t.events, t.data]).toEqual([fstatSync(target, { bigint: true }).ino, 0x19, 0x77n]);
    // epoll_added_as is /dev/zero now, not the target.
    expect(linkOf(await c.restoreFd(w.num("epoll_added_as")))).toBe("/dev/zero");
  });

  it("a SIGIO owner that was the process itself: NotSupportedError, or with --skip-unsupported the signal alone and a log line", async () => {
    const strict = await context();
    await expect(strict.restoreFd(w.num("owned"))).rejects.toThrow(NotSupportedError);
    await expect(strict.restoreFd(w.num("owned"))).rejects.toThrow(/SIGIO owner was the dumped process itself/);
    const lenient = await context(dir, true);
    const f = await lenient.restoreFd(w.num("owned"));
    expect([fcntl(f, F_GETSIG), fcntl(f, F_GETOWN)]).toEqual([SIGUSR2, 0]);
    expect(lenient.logs.some((l) => /not restored: its SIGIO owner/.test(l))).toBe(true);
  });

  it("O_PATH, a directory, /dev/kmsg (pos -1: not seeked) and an ELF binary whose build-id matches", async () => {
    const c = await context();
    for (const key of ["opath", "dir", "kmsg", "elf"]) {
      const fd = await c.restoreFd(w.num(key));
      expect(fileFlagsOf(fd), key).toBe(live.get(w.num(key))!.flags & ~0o2000000);
    }
    expect(linkOf(await c.restoreFd(w.num("opath")))).toBe(join(cwd, "owned.txt"));
    expect(linkOf(await c.restoreFd(w.num("dir")))).toBe(cwd);
    expect(dumped.get(w.num("elf"))!.entry.build_id).toHaveLength(5);
  });

  it("an ELF binary with another build-id than recorded is refused", async () => {
    // Same size and mode, one build-id word changed in the image.
    const bad = join(work.dir, "images-bad-build-id");
    mkdirSync(bad);
    for (const name of readdirSync(dir)) copyFileSync(join(dir, name), join(bad, name));
    const files = await decodeImage(readFileSync(join(dir, "files.img")));
    const elfId = dumped.get(w.num("elf"))!.id;
    for (const e of files.entries) {
      const reg = e.message.reg as { build_id: number[] } | undefined;
      if (e.message.id === elfId && reg) reg.build_id[0] ^= 1;
    }
    writeFileSync(join(bad, "files.img"), encodeImage("FILES", files.entries));
    const c = await context(bad);
    await expect(c.restoreFd(w.num("elf"))).rejects.toThrow(FileChangedError);
    await expect(c.restoreFd(w.num("elf"))).rejects.toThrow(/another ELF build-id/);
  });

  it("a sparse memfd open twice: one inode, its one page of data, holes elsewhere, each file's access mode", async () => {
    const c = await context();
    const [a, b] = [await c.restoreFd(w.num("memfd_holey")), await c.restoreFd(w.num("memfd_holey2"))];
    expect(fstatSync(a).ino).toBe(fstatSync(b).ino);
    expect(fstatSync(a).size).toBe(3 * 4096);
    const want = Buffer.alloc(3 * 4096);
    want.fill("M", 8192 + 10, 8192 + 110);
    expect(preadFully(b, 0, 3 * 4096).equals(want)).toBe(true);
    expect([fileFlagsOf(a) & 3, fileFlagsOf(b) & 3]).toEqual([2, 0]);
    expect(linkOf(b)).toBe("/memfd:holey (deleted)");
  });
});
