/**
 * Restoring the CRIU 4.2 fds-zoo fixture images themselves (what CRIU's own
 * dump wrote, not crtool's). Kinds that need no path — the pipe, eventfd,
 * epoll, signalfd, timerfd and memfd — are restored and compared with the
 * fixture's proc/ and README. The recorded paths are under a scratch
 * directory of the machine that made the fixture (/tmp/...): when it is
 * under /tmp and free here, the tree is re-created (the files with their
 * recorded sizes and modes, the FIFO, the watched directory) for the REG,
 * ghost, FIFO and inotify entries, and removed afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, fstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { F_GETPIPE_SZ, F_GET_SEALS, fcntl, read, stableBuffer } from "../../src/kernel/index.js";
import { NotSupportedError } from "../../src/images/errors.js";
import { preadFully } from "../../src/fds/reopen.js";
import { timerfdGettime } from "../../src/kernel/index.js";
import { FD_TYPE_NUMBERS } from "../../src/contract/fd-kind.js";
import { HAVE_ZOO, IS_ROOT, ZOO, type CritDocument } from "./helpers.js";
import { TestRestoreContext, fileFlagsOf, linkOf, openFds, ownFdinfo, readQueued } from "./restore-helpers.js";

const reason = !IS_ROOT ? "not running as root (the ghost file's owner and memfd's are root's)" : HAVE_ZOO ? undefined : `the fds-zoo fixture is not at ${ZOO}`;
if (reason) console.warn(`skipping CRIU fixture restore tests: ${reason}`);

const IMAGES = join(ZOO, "images");
const PID = 31397;

function golden(name: string): CritDocument {
  return JSON.parse(readFileSync(join(ZOO, "golden", name), "utf8")) as CritDocument;
}

/** The directory the fixture's workload ran in, from its REG entry of ro.txt. */
function recordedCwd(): string {
  const ro = golden("files.img.pretty.json").entries.find((e) => String((e.reg as { name?: string } | undefined)?.name).endsWith("/ro.txt"));
  return dirname((ro!.reg as { name: string }).name);
}

/** The fixture's file contents: byte i = 'A' + i % 26, last byte '\n'. */
function pattern(len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = 65 + (i % 26);
  b[len - 1] = 10;
  return b;
}

const CWD = HAVE_ZOO ? recordedCwd() : "";
/** The top directory to create (and remove): the first component under /tmp. */
const TOP = CWD.startsWith("/tmp/") ? join("/tmp", CWD.split("/")[2]) : undefined;
const treeReason = reason ?? (!TOP ? `the recorded paths are not under /tmp (${CWD})` : existsSync(TOP) ? `${TOP} already exists here` : undefined);
if (!reason && treeReason) console.warn(`skipping the fixture's path-based fds: ${treeReason}`);

describe.skipIf(reason)("CRIU 4.2 fds-zoo images: kinds that need no path", () => {
  let ctx: TestRestoreContext;
  let fdsBefore: number;

  beforeAll(async () => {
    fdsBefore = openFds().length;
    ctx = await TestRestoreContext.open(IMAGES, PID);
    // The epoll also watches a socket (fd 12), which these kinds do not restore.
    ctx.options.skipUnsupported = true;
  });

  afterAll(() => {
    ctx?.rollback();
    expect(openFds().length).toBe(fdsBefore);
  });

  it("the pipe: one pipe for both ends, flags 0 and 1, 64 KiB, \"0123456789\" queued", async () => {
    const [r, w] = [await ctx.restoreFd(7), await ctx.restoreFd(8)];
    expect(fstatSync(r).ino).toBe(fstatSync(w).ino);
    expect([fileFlagsOf(r), fileFlagsOf(w)]).toEqual([0, 1]);
    expect(fcntl(w, F_GETPIPE_SZ)).toBe(65536);
    expect(readQueued(r).toString()).toBe("0123456789");
  });

  it("eventfd count 5, signalfd {SIGUSR1} non-blocking, monotonic timer with about 59.6 s left", async () => {
    const e = await ctx.restoreFd(16);
    expect(ownFdinfo(e).eventfd!.count).toBe(5n);
    const s = await ctx.restoreFd(18);
    expect([ownFdinfo(s).signalfd!.sigmask, fileFlagsOf(s)]).toEqual([0x200n, 0o4002]);
    const t = await ctx.restoreFd(19);
    const left = timerfdGettime(t);
    expect(left.interval).toBe(60_000_000_000n);
    expect(left.value).toBeLessThanOrEqual(59_601_977_245n);
    expect(left.value).toBeGreaterThan(55_000_000_000n);
  });

  it("epoll: the pipe and eventfd targets with CRIU's recorded events and data, the socket left out", async () => {
    const ep = await ctx.restoreFd(17);
    const ino = async (fd: number) => fstatSync(await ctx.restoreFd(fd), { bigint: true }).ino;
    const got = ownFdinfo(ep).epoll!.map((t) => [t.ino, t.events, t.data]).sort((a, b) => Number(a[2]) - Number(b[2]));
    expect(got).toEqual([
      [await ino(16), 25, 0x1111n],
      [await ino(7), 2147483673, 0x2222n],
    ]);
    expect(ctx.logs.some((l) => /watched fd 12 \(file 16\) cannot be restored/.test(l))).toBe(true);
  });

  it("memfd: zoo-memfd from pagemap-shmem-1210.img and pages-1.img, 5000 bytes, F_SEAL_WRITE, offset 5000", async () => {
    const m = await ctx.restoreFd(21);
    expect(linkOf(m)).toBe("/memfd:zoo-memfd (deleted)");
    const want = Buffer.alloc(5000);
    for (let i = 0; i < 5000; i++) want[i] = 97 + (i % 26);
    want.write("memfd payload start|", 0);
    expect(preadFully(m, 0, 8192).equals(want)).toBe(true);
    expect([fcntl(m, F_GET_SEALS), ownFdinfo(m).pos, fstatSync(m).mode]).toEqual([8, 5000n, 0o100777]);
  });

  it("the fixture's sockets are not these kinds': a NotSupportedError", async () => {
    const strict = await TestRestoreContext.open(IMAGES, PID);
    try {
      await expect(strict.restoreFd(11)).rejects.toThrow(NotSupportedError);
    } finally {
      strict.rollback();
    }
  });

  // Runs before the second block makes the tree (blocks run in order).
  it("without the recorded directory, the ghost file is an error naming it", async ({ skip }) => {
    skip(existsSync(CWD), `${CWD} exists here`);
    const strict = await TestRestoreContext.open(IMAGES, PID);
    try {
      await expect(strict.restoreFd(6)).rejects.toThrow(/ENOENT.*shared-fds-zoo/);
    } finally {
      strict.rollback();
    }
  });
});

describe.skipIf(treeReason)("CRIU 4.2 fds-zoo images: files at their recorded paths (scratch tree under /tmp)", () => {
  let ctx: TestRestoreContext | undefined;
  let fdsBefore: number;
  /** Set when another run made the tree first: its tests skip, and the tree is left to that run. */
  let busy: string | undefined;
  const table = new Map<number, number>();

  beforeAll(async () => {
    fdsBefore = openFds().length;
    try {
      // Not recursive: only the run that creates the top directory uses (and removes) the tree.
      mkdirSync(TOP!, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      busy = `${TOP} appeared meanwhile (another run of this test?)`;
      console.warn(`skipping the fixture's path-based fds: ${busy}`);
      return;
    }
    mkdirSync(join(CWD, "watched"), { recursive: true, mode: 0o755 });
    for (const [name, len] of [["ro.txt", 64], ["append.log", 200], ["rdwr.bin", 32]] as const) {
      writeFileSync(join(CWD, name), pattern(len));
      chmodSync(join(CWD, name), 0o644);
    }
    const r = spawnSync("mkfifo", ["-m", "600", join(CWD, "zoo.fifo")]);
    if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`);
    ctx = await TestRestoreContext.open(IMAGES, PID);
    ctx.options.skipUnsupported = true;
    for (const [fd, id] of ctx.table) {
      const type = ctx.fileEntry(id)!.type;
      if (type !== FD_TYPE_NUMBERS.UNIXSK && type !== FD_TYPE_NUMBERS.INETSK) table.set(fd, await ctx.restoreFd(fd));
    }
  });

  afterAll(() => {
    ctx?.rollback();
    if (TOP && !busy) rmSync(TOP, { recursive: true, force: true });
    expect(openFds().length).toBe(fdsBefore);
  });

  /** The restored fd of the fixture's fd `fd` (skipping the test when another run holds the tree). */
  function restored(fd: number, skip: (condition: boolean, note?: string) => void): number {
    skip(busy !== undefined, busy);
    return table.get(fd)!;
  }

  it("every fd but the sockets is restored with the flags CRIU recorded", ({ skip }) => {
    skip(busy !== undefined, busy);
    expect([...table.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22]);
    const files = golden("files.img.pretty.json").entries;
    const fdinfo = golden("fdinfo-2.img.pretty.json").entries;
    for (const [fd, ours] of table) {
      const id = fdinfo.find((e) => e.fd === fd)!.id;
      const proc = readFileSync(join(ZOO, "proc", "fdinfo", String(fd)), "utf8");
      const flags = parseInt(/^flags:\s+(\d+)/m.exec(proc)![1], 8) & ~0o2000000;
      expect(fileFlagsOf(ours), `fd ${fd} (file ${id}, ${files.find((e) => e.id === id)!.type})`).toBe(flags);
    }
  });

  it("regular files at their offsets; /dev/null", ({ skip }) => {
    skip(busy !== undefined, busy);
    expect([0, 1, 2].map((fd) => table.get(fd))).toEqual([table.get(0), table.get(0), table.get(0)]);
    expect(linkOf(table.get(22)!)).toBe("/dev/null");
    for (const [fd, name, pos] of [[3, "ro.txt", 0n], [4, "append.log", 100n], [5, "rdwr.bin", 7n]] as const) {
      expect(linkOf(table.get(fd)!)).toBe(join(CWD, name));
      expect(ownFdinfo(table.get(fd)!).pos).toBe(pos);
    }
  });

  it("the ghost file from ghost-file-1.img: unlinked, its name, 300 bytes, mode, CRIU's recorded mtime, offset 10", ({ skip }) => {
    const g = restored(6, skip);
    expect(linkOf(g)).toBe(`${join(CWD, "ghost.txt")} (deleted)`);
    const st = fstatSync(g, { bigint: true });
    expect([st.nlink, st.size, st.mode]).toEqual([0n, 300n, 0o100644n]);
    expect(st.mtimeNs).toBe(1795712498_798385000n);
    expect(preadFully(g, 0, 400).equals(pattern(300))).toBe(true);
    expect(ownFdinfo(g).pos).toBe(10n);
    expect(readdirSync(CWD).sort()).toEqual(["append.log", "rdwr.bin", "ro.txt", "watched", "zoo.fifo"]);
  });

  it("the FIFO: both ends, \"fifo-data-16byte\" queued", ({ skip }) => {
    expect(readQueued(restored(9, skip)).toString()).toBe("fifo-data-16byte");
  });

  it("inotify: watch 1 on watched/ with mask 0x302 (a new directory: the log says its inode differs)", ({ skip }) => {
    const [w] = ownFdinfo(restored(20, skip)).inotify!;
    expect([w.wd, w.mask]).toEqual([1, 0x302]);
    expect(ctx!.logs.some((l) => /watch 1 is now on inode/.test(l))).toBe(true);
  });

  it("epoll: the pipe and eventfd targets", ({ skip }) => {
    expect(ownFdinfo(restored(17, skip)).epoll!.map((t) => t.data).sort()).toEqual([0x1111n, 0x2222n]);
    const v = stableBuffer(8);
    read(table.get(16)!, v);
    expect(v.readBigUInt64LE(0)).toBe(5n);
  });
});
