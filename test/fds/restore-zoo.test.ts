/**
 * Dump → kill → restore → compare on the fds-zoo fixture's own workload:
 * every fd kind crtool restores (sockets aside) dumped from the live
 * process, the process killed, each fd restored in this test process, and
 * the restored open file compared with what the workload had: flags and
 * offsets from fdinfo, the ghost file's name, contents and mode, pipe and
 * FIFO data read back in order, eventfd count, timer time left, signalfd
 * mask, inotify watch (and an event through it), memfd name, contents and
 * seals, and epoll targets mapped to the restored files.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fstatSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { F_GETPIPE_SZ, F_GET_SEALS, fcntl, read, readFdinfo, stableBuffer, write } from "../../src/kernel/index.js";
import { NotSupportedError } from "../../src/images/errors.js";
import { preadFully } from "../../src/fds/reopen.js";
import { timerfdGettime } from "../../src/kernel/index.js";
import { HAVE_ZOO, Workload, ZOO, compile, scratch, skipReason, type Dumped } from "./helpers.js";
import { TestRestoreContext, dumpWithTable, fileFlagsOf, linkOf, openFds, ownFdinfo, queued, readQueued } from "./restore-helpers.js";

const reason = skipReason() ?? (HAVE_ZOO ? undefined : `the fds-zoo fixture is not at ${ZOO} (set CRTOOL_FIXTURES)`);
if (reason) console.warn(`skipping fds-zoo restore tests: ${reason}`);

/** The fixture's file contents: byte i = 'A' + i % 26, last byte '\n'. */
function pattern(len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = 65 + (i % 26);
  b[len - 1] = 10;
  return b;
}

const O_LARGEFILE = 0o100000;

/**
 * The workload's source with its fixed socket addresses (TCP/UDP ports,
 * abstract unix name) made its own, so it runs next to other tests that
 * start the same workload. Its sockets are not restored here anyway.
 */
function zooSourceOwnAddresses(dir: string): string {
  let src = readFileSync(join(ZOO, "src", "fds_zoo.c"), "utf8");
  for (const [from, to] of [
    [/#define TCP_PORT \d+/, "#define TCP_PORT 0"],
    [/#define UDP_PORT \d+/, "#define UDP_PORT 0"],
    [/#define ABSTRACT_NAME "[^"]*"/, `#define ABSTRACT_NAME "crtool-restore-zoo-${process.pid}"`],
  ] as const) {
    if (!from.test(src)) throw new Error(`fds_zoo.c no longer has ${from}`);
    src = src.replace(from, to);
  }
  const path = join(dir, "fds_zoo.c");
  writeFileSync(path, src);
  return path;
}

describe.skipIf(reason)("fds-zoo workload: dump, kill, restore, compare", () => {
  let work: ReturnType<typeof scratch>;
  let cwd: string;
  let dir: string;
  let pid: number;
  let dumped: Map<number, Dumped>;
  let ctx: TestRestoreContext;
  let fdsBefore: number;
  /** When the live fdinfo (the timers' time left) was read. */
  let liveAt: number;
  /** What the live process showed before it was killed. */
  const live = new Map<number, ReturnType<typeof readFdinfo>>();
  const restored = new Map<number, number>();
  const fds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22];

  beforeAll(async () => {
    fdsBefore = openFds().length;
    work = scratch("restore-zoo");
    const bin = compile(zooSourceOwnAddresses(work.dir), work.dir, "fds_zoo");
    cwd = join(work.dir, "data");
    dir = join(work.dir, "images");
    mkdirSync(cwd);
    mkdirSync(dir);
    const w = await Workload.start(bin, cwd, join(work.dir, "program-info.txt"));
    pid = w.pid;
    try {
      liveAt = Date.now();
      for (const fd of fds) live.set(fd, readFdinfo(pid, fd));
      dumped = await dumpWithTable(pid, fds, dir);
    } finally {
      await w.stop();
    }
    ctx = await TestRestoreContext.open(dir, pid);
    // The epoll watches a socket (fd 12) that these kinds do not restore: keep the other targets.
    ctx.options.skipUnsupported = true;
    for (const fd of fds) restored.set(fd, await ctx.restoreFd(fd));
  });

  afterAll(() => {
    ctx?.rollback();
    work?.cleanup();
    expect(openFds().length).toBe(fdsBefore);
  });

  it("fds sharing one open file get one restored file; every file gets the dumped flags back", () => {
    expect(restored.get(1)).toBe(restored.get(0));
    expect(restored.get(2)).toBe(restored.get(0));
    for (const fd of fds) expect(fileFlagsOf(restored.get(fd)!), `fd ${fd}`).toBe(live.get(fd)!.flags & ~0o2000000);
  });

  it("regular files: same path, offset and contents; /dev/null", () => {
    for (const [fd, name, len] of [[3, "ro.txt", 64], [4, "append.log", 200], [5, "rdwr.bin", 32]] as const) {
      const r = restored.get(fd)!;
      expect(linkOf(r)).toBe(join(cwd, name));
      expect(ownFdinfo(r).pos).toBe(live.get(fd)!.pos);
      expect(readFileSync(join(cwd, name)).equals(pattern(len))).toBe(true);
    }
    expect(linkOf(restored.get(0)!)).toBe("/dev/null");
    expect(linkOf(restored.get(22)!)).toBe("/dev/null");
  });

  it("the ghost file is unlinked again, with its name, contents, mode and offset, and nothing left in its directory", () => {
    const r = restored.get(6)!;
    expect(linkOf(r)).toBe(`${join(cwd, "ghost.txt")} (deleted)`);
    const st = fstatSync(r);
    expect([st.nlink, st.size, st.mode]).toEqual([0, 300, 0o100644]);
    expect(preadFully(r, 0, 300).equals(pattern(300))).toBe(true);
    expect(ownFdinfo(r).pos).toBe(10n);
    expect(readdirSync(cwd).sort()).toEqual(["append.log", "rdwr.bin", "ro.txt", "watched", "zoo.fifo"]);
  });

  it("the pipe: both ends of one pipe, without O_LARGEFILE, its 10 bytes queued before anything else", () => {
    const [r, w] = [restored.get(7)!, restored.get(8)!];
    expect(fstatSync(r).ino).toBe(fstatSync(w).ino);
    expect([fileFlagsOf(r), fileFlagsOf(w)]).toEqual([0, 1]);
    expect(fcntl(r, F_GETPIPE_SZ)).toBe(65536);
    write(w, Buffer.from("+more"));
    expect(readQueued(r).toString()).toBe("0123456789+more");
  });

  it("the FIFO: both ends reopened by path, its 16 bytes queued", () => {
    const [r, w] = [restored.get(9)!, restored.get(10)!];
    expect(linkOf(r)).toBe(join(cwd, "zoo.fifo"));
    expect(fileFlagsOf(r) & ~O_LARGEFILE).toBe(0);
    expect(readQueued(r).toString()).toBe("fifo-data-16byte");
    write(w, Buffer.from("again"));
    expect(readQueued(r).toString()).toBe("again");
  });

  it("eventfd: count 5", () => {
    const e = restored.get(16)!;
    expect(ownFdinfo(e).eventfd!.count).toBe(5n);
    const v = stableBuffer(8);
    expect(read(e, v)).toBe(8);
    expect(v.readBigUInt64LE(0)).toBe(5n);
  });

  it("signalfd: mask {SIGUSR1}, non-blocking", () => {
    expect(ownFdinfo(restored.get(18)!).signalfd!.sigmask).toBe(0x200n);
  });

  it("timerfd: monotonic, the time left at dump counting down from the restore, 60 s interval", () => {
    const t = restored.get(19)!;
    const left = BigInt(live.get(19)!.timerfd!.itValue.sec) * 1_000_000_000n + BigInt(live.get(19)!.timerfd!.itValue.nsec);
    const now = timerfdGettime(t);
    expect(now.interval).toBe(60_000_000_000n);
    expect(now.value).toBeLessThanOrEqual(left);
    expect(Number(left - now.value) / 1e6).toBeLessThan(Date.now() - liveAt + 500);
    expect(ownFdinfo(t).timerfd!.clockid).toBe(1);
  });

  it("inotify: watch 1 on watched/ with mask 0x302, and it reports a new file", () => {
    const i = restored.get(20)!;
    const [w] = ownFdinfo(i).inotify!;
    expect([w.wd, w.mask, w.ino]).toEqual([1, 0x302, statSync(join(cwd, "watched"), { bigint: true }).ino]);
    writeFileSync(join(cwd, "watched", "new"), "x");
    expect(queued(i)).toBeGreaterThan(0);
    const ev = Buffer.alloc(queued(i));
    read(i, ev);
    // struct inotify_event { int wd; u32 mask; u32 cookie; u32 len; char name[]; }
    expect([ev.readInt32LE(0), ev.readUInt32LE(4) & 0x100]).toEqual([1, 0x100]);
  });

  it("memfd: its name, 5000 bytes, F_SEAL_WRITE, offset 5000", () => {
    const m = restored.get(21)!;
    expect(linkOf(m)).toBe("/memfd:zoo-memfd (deleted)");
    const want = Buffer.alloc(5000);
    for (let i = 0; i < 5000; i++) want[i] = 97 + (i % 26);
    want.write("memfd payload start|", 0);
    expect(preadFully(m, 0, 6000).equals(want)).toBe(true);
    expect(fcntl(m, F_GET_SEALS)).toBe(8);
    expect(ownFdinfo(m).pos).toBe(5000n);
    expect(fstatSync(m).mode).toBe(0o100777);
  });

  it("epoll: the eventfd and pipe targets with their events and data; the socket target left out with a log line", () => {
    const targets = ownFdinfo(restored.get(17)!).epoll!;
    const inoOf = (fd: number) => fstatSync(restored.get(fd)!, { bigint: true }).ino;
    const want = live.get(17)!.epoll!.filter((t) => t.tfd !== 12).map((t) => ({ ino: inoOf(t.tfd), events: t.events, data: t.data }));
    const got = targets.map((t) => ({ ino: t.ino, events: t.events, data: t.data }));
    expect(got.sort((a, b) => Number(a.data - b.data))).toEqual(want.sort((a, b) => Number(a.data - b.data)));
    expect(ctx.logs.some((l) => /EVENTPOLL.*watched fd 12/.test(l))).toBe(true);
  });

  it("without --skip-unsupported, the epoll's socket target is a NotSupportedError naming the file and the fd", async () => {
    const strict = await TestRestoreContext.open(dir, pid);
    try {
      const err = await strict.restoreFd(17).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotSupportedError);
      expect((err as Error).message).toMatch(new RegExp(`file ${dumped.get(17)!.id} \\(EVENTPOLL\\): watched fd 12 is not in the process's fd table`));
    } finally {
      strict.rollback();
    }
  });
});
