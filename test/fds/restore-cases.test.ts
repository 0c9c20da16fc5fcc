/**
 * Dump → kill → restore → compare for the cases the fds-zoo workload does
 * not have (restore_fds.c): a pipe larger than the default holding more than
 * 64 KiB, a pipe whose writers were gone (end-of-file after the data), a
 * second read end reopened through /proc, an eventfd count over 32 bits,
 * absolute and expired timers, a signal mask above bit 32, inotify watch
 * numbers with a gap, memfds with and without sealing shared by two open
 * files, an epoll watching one file under two numbers, FIFOs open
 * read-write and write-only, a ghost file open twice and one whose name was
 * taken; then files changed after the dump and a /proc file of the dumped
 * process (refused), and a failed restore rolled back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, fstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { F_GETPIPE_SZ, F_GET_SEALS, fcntl, read, readFdinfo, stableBuffer, write } from "../../src/kernel/index.js";
import { NotSupportedError } from "../../src/images/errors.js";
import { FileChangedError } from "../../src/fds/restore-errors.js";
import { preadFully } from "../../src/fds/reopen.js";
import { timerfdGettime } from "../../src/kernel/index.js";
import { Workload, compile, scratch, skipReason, type Dumped } from "./helpers.js";
import { TestRestoreContext, dumpWithTable, fileFlagsOf, linkOf, openFds, ownFdinfo, queued, readQueued } from "./restore-helpers.js";

const reason = skipReason();
if (reason) console.warn(`skipping restore cases: ${reason}`);

const SOURCE = fileURLToPath(new URL("./restore_fds.c", import.meta.url));
const O_LARGEFILE = 0o100000;
const O_NONBLOCK = 0o4000;
const F_SEAL_SEAL = 1;
const F_SEAL_SHRINK = 2;
const F_SEAL_GROW = 4;
const F_SEAL_WRITE = 8;

describe.skipIf(reason)("restore cases (restore_fds.c): dump, kill, restore, compare", () => {
  let work: ReturnType<typeof scratch>;
  let cwd: string;
  let dir: string;
  let w: Workload;
  let dumped: Map<number, Dumped>;
  let ctx: TestRestoreContext;
  let fdsBefore: number;
  /** When the live fdinfo (the timers' time left) was read. */
  let liveAt: number;
  const live = new Map<number, ReturnType<typeof readFdinfo>>();
  const fdOf = (key: string) => w.num(key);

  beforeAll(async () => {
    fdsBefore = openFds().length;
    work = scratch("restore-cases");
    const bin = compile(SOURCE, work.dir, "restore_fds");
    cwd = join(work.dir, "data");
    dir = join(work.dir, "images");
    mkdirSync(cwd);
    mkdirSync(dir);
    w = await Workload.start(bin, cwd, join(work.dir, "ready.txt"));
    try {
      const fds = readdirSync(`/proc/${w.pid}/fd`).map(Number).filter((n) => n > 2);
      liveAt = Date.now();
      for (const fd of fds) live.set(fd, readFdinfo(w.pid, fd));
      dumped = await dumpWithTable(w.pid, fds, dir);
    } finally {
      await w.stop();
    }
    ctx = await TestRestoreContext.open(dir, w.pid);
  });

  afterAll(() => {
    ctx?.rollback();
    work?.cleanup();
    expect(openFds().length).toBe(fdsBefore);
  });

  const restore = (key: string) => ctx.restoreFd(fdOf(key));

  it("a 1 MiB pipe gets its capacity back and its 200 KiB in order; its read end stays non-blocking", async () => {
    const [r, wr] = [await restore("big_pipe_r"), await restore("big_pipe_w")];
    expect(fcntl(r, F_GETPIPE_SZ)).toBe(1 << 20);
    const want = Buffer.alloc(w.num("big_pipe_bytes"));
    for (let i = 0; i < want.length; i++) want[i] = (i * 7 + Math.floor(i / 251)) & 0xff;
    expect(readQueued(r).equals(want)).toBe(true);
    expect(fileFlagsOf(r)).toBe(O_NONBLOCK);
    expect(fileFlagsOf(wr)).toBe(1);
    // Empty and non-blocking: EAGAIN, not a hang.
    expect(() => read(r, Buffer.alloc(1))).toThrow(/EAGAIN/);
  });

  it("a pipe whose writers were gone: its bytes, then end-of-file (crtool keeps no write end)", async () => {
    const r = await restore("eof_pipe");
    expect(readQueued(r).toString()).toBe("last!");
    expect(read(r, Buffer.alloc(4))).toBe(0);
  });

  it("a read end reopened through /proc comes back reopened (with O_LARGEFILE), on the same pipe", async () => {
    const [r, wr, r2] = [await restore("lf_pipe_r"), await restore("lf_pipe_w"), await restore("lf_pipe_r2")];
    expect([fileFlagsOf(r), fileFlagsOf(wr), fileFlagsOf(r2)]).toEqual([0, 1, O_LARGEFILE]);
    expect(new Set([r, wr, r2].map((fd) => fstatSync(fd).ino)).size).toBe(1);
    expect(readQueued(r2).toString()).toBe("abc");
    write(wr, Buffer.from("z"));
    expect(readQueued(r).toString()).toBe("z");
  });

  it("an eventfd count over 32 bits, non-blocking", async () => {
    const e = await restore("big_eventfd");
    expect(fileFlagsOf(e)).toBe(0o2 | O_NONBLOCK);
    const v = stableBuffer(8);
    read(e, v);
    expect(v.readBigUInt64LE(0)).toBe(BigInt(w.value("big_eventfd_count")));
  });

  it("an absolute realtime timer keeps its settime flags and the time it had left", async () => {
    const t = await restore("abs_timer");
    const info = ownFdinfo(t).timerfd!;
    expect([info.clockid, info.settimeFlags]).toEqual([0, 3]);
    const recorded = live.get(fdOf("abs_timer"))!.timerfd!.itValue;
    const left = BigInt(recorded.sec) * 1_000_000_000n + BigInt(recorded.nsec);
    const now = timerfdGettime(t).value;
    expect(now).toBeLessThanOrEqual(left);
    expect(Number(left - now) / 1e6).toBeLessThan(Date.now() - liveAt + 500);
  });

  it("an expired one-shot timer keeps its unread expiry (ticks)", async () => {
    const t = await restore("expired_timer");
    expect(ownFdinfo(t).timerfd!.ticks).toBe(1n);
    const v = stableBuffer(8);
    expect(read(t, v)).toBe(8);
    expect(v.readBigUInt64LE(0)).toBe(1n);
  });

  it("a signalfd mask with a real-time signal above bit 32", async () => {
    const s = await restore("signalfd");
    expect(ownFdinfo(s).signalfd!.sigmask).toBe(BigInt(`0x${w.value("sigmask")}`));
    expect(fileFlagsOf(s)).toBe(0o2 | O_NONBLOCK);
  });

  it("inotify watches keep their numbers across a gap, and their masks (IN_ONESHOT and IN_EXCL_UNLINK included)", async () => {
    const i = await restore("inotify");
    const got = ownFdinfo(i).inotify!.map((x) => [x.wd, x.mask]);
    const recorded = live.get(fdOf("inotify"))!.inotify!.map((x) => [x.wd, x.mask]);
    expect(got).toEqual(recorded);
    expect(got.map(([wd]) => wd).sort()).toEqual([1, 3]);
    // IN_MODIFY | IN_ONESHOT | IN_EXCL_UNLINK, as fdinfo shows them (and CRIU would have dropped the last two).
    expect(got.find(([wd]) => wd === 3)![1] >>> 0).toBe((0x2 | 0x80000000 | 0x04000000) >>> 0);
    // Nothing queued: watch numbers were set, not reached by adding and removing watches.
    expect(queued(i)).toBe(0);
  });

  it("a memfd made without sealing stays unsealable (F_SEAL_SEAL)", async () => {
    const m = await restore("memfd_noseal");
    expect(fcntl(m, F_GET_SEALS)).toBe(F_SEAL_SEAL);
    expect(preadFully(m, 0, 100).toString()).toBe("0123456789");
    expect(linkOf(m)).toBe("/memfd:no-seals (deleted)");
  });

  it("a sealed memfd open twice: one inode, its seals, each open file's flags and offset", async () => {
    const [m, ro] = [await restore("memfd_sealed"), await restore("memfd_sealed_ro")];
    expect(fstatSync(m).ino).toBe(fstatSync(ro).ino);
    expect(fcntl(m, F_GET_SEALS)).toBe(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    expect([fileFlagsOf(m) & 3, fileFlagsOf(ro) & 3]).toEqual([2, 0]);
    expect([ownFdinfo(m).pos, ownFdinfo(ro).pos]).toEqual([3n, 1n]);
    expect(preadFully(ro, 0, 10).toString()).toBe("xyz");
    expect(() => write(m, Buffer.from("!"))).toThrow(/EPERM/);
  });

  it("an epoll watching one file under two numbers keeps both items", async () => {
    const ep = await restore("epoll2");
    const target = await restore("epoll2_a");
    expect(await restore("epoll2_b")).toBe(target);
    const ino = fstatSync(target, { bigint: true }).ino;
    const items = ownFdinfo(ep).epoll!.map((t) => ({ ino: t.ino, events: t.events, data: t.data }));
    const want = live.get(fdOf("epoll2"))!.epoll!.map((t) => ({ ino, events: t.events, data: t.data }));
    expect(items.sort((a, b) => Number(a.data - b.data))).toEqual(want.sort((a, b) => Number(a.data - b.data)));
  });

  it("FIFOs: one open read-write with its data; one open write-only whose data waits for a reader", async () => {
    const rw = await restore("rw_fifo");
    expect(fileFlagsOf(rw) & 3).toBe(2);
    expect(readQueued(rw).toString()).toBe("both ways");
    const wo = await restore("wo_fifo");
    expect(fileFlagsOf(wo) & 3).toBe(1);
    expect(queued(wo)).toBe(4);
  });

  it("a ghost file open twice: one inode, re-created once, each open file with its flags and offset", async () => {
    const [a, b] = [await restore("ghost_twice"), await restore("ghost_twice_ro")];
    expect(fstatSync(a).ino).toBe(fstatSync(b).ino);
    expect(fstatSync(a).nlink).toBe(0);
    expect([linkOf(a), linkOf(b)]).toEqual([`${join(cwd, "twice.txt")} (deleted)`, `${join(cwd, "twice.txt")} (deleted)`]);
    expect([fileFlagsOf(a), fileFlagsOf(b)]).toEqual([live.get(fdOf("ghost_twice"))!.flags & ~0o2000000, live.get(fdOf("ghost_twice_ro"))!.flags & ~0o2000000]);
    expect(ownFdinfo(b).pos).toBe(6n);
    expect(preadFully(b, 0, 100).toString()).toBe("twice-ghost");
  });

  it("a ghost whose name another file took: restored through /proc, the other file untouched", async () => {
    writeFileSync(join(cwd, "taken.txt"), "somebody else");
    const g = await restore("ghost_taken");
    expect(preadFully(g, 0, 100).toString()).toBe("original");
    expect(fstatSync(g).nlink).toBe(0);
    expect(ctx.logs.some((l) => /ghost not opened by its name .*taken\.txt/.test(l))).toBe(true);
    expect(readdirSync(cwd).filter((n) => n.startsWith("taken.txt"))).toEqual(["taken.txt"]);
  });

  it("no ghost leaves a name behind", () => {
    expect(readdirSync(cwd).filter((n) => n.includes("twice") || n.includes(".cr."))).toEqual([]);
  });

  it("a file that grew or changed mode since the dump is refused (FileChangedError), one that did not is restored", async () => {
    writeFileSync(join(cwd, "grows.txt"), "ten bytes! and more");
    chmodSync(join(cwd, "chmods.txt"), 0o600);
    await expect(restore("grows")).rejects.toThrow(FileChangedError);
    await expect(restore("grows")).rejects.toThrow(/grows\.txt has 19 bytes, 10 when it was dumped/);
    await expect(restore("chmods")).rejects.toThrow(/chmods\.txt has mode 0o100600, 0o100644 when it was dumped/);
    const s = await restore("stays");
    expect(preadFully(s, 0, 100).toString()).toBe("stays the same");
  });

  it("a /proc file of the dumped process itself is refused (its pid is not the restored fds' process)", async () => {
    await expect(restore("own_proc")).rejects.toThrow(NotSupportedError);
    await expect(restore("own_proc")).rejects.toThrow(new RegExp(`/proc/${w.pid}/stat is a /proc file of the dumped process itself`));
  });

  it("a failed restore rolls back: every fd it opened is closed, no ghost name is left", async () => {
    const before = openFds().length;
    const r = await TestRestoreContext.open(dir, w.pid);
    await r.restoreFd(fdOf("ghost_twice"));
    await r.restoreFd(fdOf("big_pipe_r"));
    await r.restoreFd(fdOf("memfd_sealed_ro"));
    await expect(r.restoreFd(fdOf("grows"))).rejects.toThrow(FileChangedError);
    expect(openFds().length).toBeGreaterThan(before);
    r.rollback();
    expect(openFds().length).toBe(before);
    expect(readdirSync(cwd).filter((n) => n.includes("twice") || n.includes(".cr."))).toEqual([]);
  });

  it("every dumped fd was covered", () => {
    const keys = w.info.split(/\s+/).filter((kv) => /^[a-z_0-9]+=\d+$/.test(kv) && !/^(pid|big_pipe_bytes|big_eventfd_count|sigmask)=/.test(kv));
    expect(new Set(keys.map((kv) => Number(kv.split("=")[1])))).toEqual(new Set(dumped.keys()));
  });
});

