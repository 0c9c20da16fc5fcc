/**
 * The fd kinds and cases the fds-zoo fixture does not cover, on a live
 * workload (extra_fds.c): chunked ghost files, a pipe held only by its
 * writer, epoll targets that moved to another fd, fown, O_PATH, directories,
 * ELF build-ids, /dev/kmsg, fanotify, ptys, pidfds, namespace files, sparse
 * shared memfds, and the states CRIU's format cannot hold. Each test dumps
 * into its own image directory, checks the entries against the live /proc
 * and what the workload set up, and has Debian's crit decode the images.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeImage } from "../../src/images/index.js";
import { NotSupportedError } from "../../src/images/errors.js";
import type { ImageMessage } from "../../src/images/wire/message.js";
import { readFdLink, readFdinfo } from "../../src/kernel/index.js";
import { buildIdWords } from "../../src/fds/build-id.js";
import { kdevOf } from "../../src/fds/dev.js";
import { handleWords } from "../../src/fds/fsnotify-handle.js";
import { namespaceIds } from "../../src/fds/ns-ids.js";
import { ioctlRaw } from "../../src/kernel/index.js";
import { parseMountinfo } from "../../src/fds/mountinfo.js";
import { FD_KINDS_UNDER_TEST } from "./kinds.js";
import {
  TestDumpContext, Workload, compile, critJson, debianCrit, dumpFds, entriesOf, scratch, skipReason, taskFd, warnOnce, type Dumped,
} from "./helpers.js";

const reason = skipReason();
if (reason) console.warn(`skipping live fd-kind tests: ${reason}`);

const SOURCE = fileURLToPath(new URL("./extra_fds.c", import.meta.url));
const FIONREAD = 0x541b;

describe.skipIf(reason)("fd kinds on a live workload", () => {
  let work: ReturnType<typeof scratch>;
  let w: Workload;
  let cwd: string;
  const contexts: TestDumpContext[] = [];
  let fdsBefore = 0;

  beforeAll(async () => {
    fdsBefore = readdirSync("/proc/self/fd").length;
    work = scratch("kinds");
    const bin = compile(SOURCE, work.dir, "extra_fds");
    cwd = join(work.dir, "data");
    mkdirSync(cwd);
    w = await Workload.start(bin, cwd, join(work.dir, "ready.txt"));
  });

  afterAll(async () => {
    await w?.stop();
    for (const c of contexts) c.close();
    work?.cleanup();
    // Every fd a test grabbed or opened is closed again.
    expect(readdirSync("/proc/self/fd").length).toBe(fdsBefore);
  });

  /** Dumps fds of the workload into a fresh image directory. */
  async function dump(fds: number[], options: { skipUnsupported?: boolean } = {}): Promise<{ ctx: TestDumpContext; dir: string; dumped: Map<number, Dumped> }> {
    const dir = mkdtempSync(join(work.dir, "images-"));
    const ctx = new TestDumpContext(dir);
    ctx.options.skipUnsupported = options.skipUnsupported ?? false;
    contexts.push(ctx);
    const dumped = await dumpFds(ctx, w.pid, fds, FD_KINDS_UNDER_TEST);
    ctx.images.closeAll();
    return { ctx, dir, dumped };
  }

  /** Debian's crit reads every image of `dir` (pages images have no header). */
  function critReadsAll(dir: string): void {
    for (const name of readdirSync(dir).filter((n) => !n.startsWith("pages-"))) {
      const doc = debianCrit(dir, name);
      if (!doc) return;
      expect(doc.entries.length, name).toBeGreaterThan(0);
    }
  }

  function fileEntry(files: ImageMessage[], id: number): ImageMessage {
    const e = files.find((f) => f.id === id);
    if (!e) throw new Error(`no files.img entry ${id}`);
    return e;
  }

  it("detects each fd as the kind CRIU would", async () => {
    const want: Record<string, string> = {
      big_ghost: "REG", wo_pipe: "PIPE", efd_sem: "EVENTFD", epoll: "EVENTPOLL", epoll_added_as: "REG", owned: "REG", opath: "REG",
      dir: "REG", elf: "REG", kmsg: "REG", pty_master: "TTY", pty_slave: "TTY", pidfd_parent: "PIDFD", pidfd_dead: "PIDFD",
      netns: "NS", utsns: "NS", memfd_holey: "MEMFD", memfd_holey2: "MEMFD",
    };
    const ctx = new TestDumpContext(mkdtempSync(join(work.dir, "detect-")));
    contexts.push(ctx);
    for (const [key, type] of Object.entries(want)) {
      const t = taskFd(ctx, w.pid, w.num(key));
      expect(FD_KINDS_UNDER_TEST.filter((k) => k.detect(t)).map((k) => k.type), key).toEqual([type]);
    }
  });

  it("a large unlinked file with a hole: a chunked ghost file, holes skipped", async () => {
    const fd = w.num("big_ghost");
    const before = statSync(`/proc/${w.pid}/fd/${fd}`, { bigint: true });
    const { dir, dumped } = await dump([fd]);
    const reg = dumped.get(fd)!.entry;
    expect(reg.name).toBe(join(cwd, "big-ghost.bin"));
    expect([reg.pos, reg.size, reg.flags]).toEqual([123n, 40960n, readFdinfo(w.pid, fd).flags & ~0o2000000]);

    const ghost = await decodeImage(readFileSync(join(dir, "ghost-file-1.img")));
    const [head, ...chunks] = ghost.entries;
    expect(head.message).toMatchObject({ chunks: true, size: 40960n, mode: 0o100640, uid: 0, gid: 0, ino: readFdinfo(w.pid, fd).ino });
    expect(head.message.dev).toBe(kdevOf(statSync(cwd, { bigint: true }).dev));
    // The times from before crtool read the contents, in microseconds.
    expect(head.message.atim).toEqual({ tv_sec: before.atimeNs / 1_000_000_000n, tv_usec: (before.atimeNs % 1_000_000_000n) / 1000n });
    expect(head.message.mtim).toEqual({ tv_sec: before.mtimeNs / 1_000_000_000n, tv_usec: (before.mtimeNs % 1_000_000_000n) / 1000n });
    expect(chunks.map((c) => [c.message.off, c.message.len])).toEqual([[0n, 8192n], [32768n, 8192n]]);
    expect(Buffer.from(chunks[0].payload as Uint8Array).equals(Buffer.alloc(8192, "h"))).toBe(true);
    expect(Buffer.from(chunks[1].payload as Uint8Array).equals(Buffer.alloc(8192, "t"))).toBe(true);
    expect(await entriesOf(dir, "remap-fpath.img")).toEqual([{ orig_id: dumped.get(fd)!.id, remap_id: 1, remap_type: 1 }]);
    // The task's offset is untouched by reading the contents.
    expect(readFdinfo(w.pid, fd).pos).toBe(123n);
    critReadsAll(dir);
  });

  it("a pipe only its writer holds: its bytes are saved and stay in the pipe", async () => {
    const fd = w.num("wo_pipe");
    const { ctx, dir, dumped } = await dump([fd]);
    expect(dumped.get(fd)!.entry).toMatchObject({ flags: 1, pipe_id: Number(readFdinfo(w.pid, fd).ino) });
    const data = await decodeImage(readFileSync(join(dir, "pipes-data.img")));
    expect(data.entries.map((e) => e.message)).toEqual([{ pipe_id: dumped.get(fd)!.entry.pipe_id, bytes: 15, size: 65536 }]);
    expect(Buffer.from(data.entries[0].payload as Uint8Array).toString()).toBe("only-the-writer");
    const n = Buffer.alloc(4);
    expect(ioctlRaw(ctx.grabPidFd(w.pid, fd), FIONREAD, n)).toBe(0);
    expect(n.readInt32LE(0)).toBe(15);
    critReadsAll(dir);
  });

  it("a semaphore eventfd is refused, or saved without the mode when skipping is allowed", async () => {
    const fd = w.num("efd_sem");
    await expect(dump([fd])).rejects.toThrow(NotSupportedError);
    await expect(dump([fd])).rejects.toThrow(new RegExp(`pid ${w.pid} fd ${fd} \\(EVENTFD\\): semaphore mode`));
    const { ctx, dumped } = await dump([fd], { skipUnsupported: true });
    expect(dumped.get(fd)!.entry).toMatchObject({ flags: 2, counter: 3n });
    expect(ctx.stats.skipped).toEqual([{ pid: w.pid, fd, kind: "EVENTFD", why: expect.stringMatching(/semaphore/) }]);
  });

  it("epoll: a target re-added under another fd number is found with kcmp", async () => {
    const fd = w.num("epoll");
    const { dir, dumped } = await dump([fd]);
    const [line] = readFdinfo(w.pid, fd).epoll!;
    expect(line.tfd).toBe(w.num("epoll_added_as"));
    expect(dumped.get(fd)!.entry).toMatchObject({
      flags: 2,
      tfd: [{ id: 0, tfd: w.num("epoll_target_now"), events: line.events, data: 0x77n, dev: line.sdev, inode: line.ino, pos: 0n }],
    });
    critReadsAll(dir);
  });

  it("fown: F_SETOWN_EX and F_SETSIG are saved", async () => {
    const fd = w.num("owned");
    const { dumped } = await dump([fd]);
    // F_OWNER_PID = 1, SIGUSR2 = 12.
    expect(dumped.get(fd)!.entry.fown).toEqual({ uid: 0, euid: 0, signum: 12, pid_type: 1, pid: w.pid });
  });

  it("O_PATH files, directories, ELF files and /dev/kmsg as CRIU writes them", async () => {
    const [opath, dirFd, elf, kmsg] = ["opath", "dir", "elf", "kmsg"].map((k) => w.num(k));
    const { dir, dumped } = await dump(kmsg >= 0 ? [opath, dirFd, elf, kmsg] : [opath, dirFd, elf]);
    expect(dumped.get(opath)!.entry).toMatchObject({ flags: 0o10000000, size: 0n, mode: 0o100600, fown: { signum: 0, pid: 0 } });
    expect(dumped.get(opath)!.entry.build_id).toBeUndefined();
    const d = dumped.get(dirFd)!.entry;
    expect([d.name, d.flags, d.mode, d.size]).toEqual([cwd, readFdinfo(w.pid, dirFd).flags, Number(statSync(cwd).mode), undefined]);

    const e = dumped.get(elf)!.entry;
    const exe = join(work.dir, "extra_fds");
    expect([e.name, e.size]).toEqual([exe, BigInt(statSync(exe).size)]);
    const readelf = spawnSync("readelf", ["-n", exe], { encoding: "utf8" });
    const hex = /Build ID: ([0-9a-f]+)/.exec(readelf.stdout ?? "")?.[1];
    if (hex) expect(e.build_id).toEqual(buildIdWords(Buffer.from(hex, "hex")));
    else warnOnce("skipping the build-id cross-check: readelf shows no build id");

    if (kmsg >= 0) {
      // files.c: write-only /dev/kmsg at offset 0 gets pos -1 (the kernel refuses to seek it on restore).
      expect(dumped.get(kmsg)!.entry).toMatchObject({ name: "/dev/kmsg", pos: 0xffffffffffffffffn, flags: 0o100001 });
      expect(dumped.get(kmsg)!.entry.size).toBeUndefined();
    }
    critReadsAll(dir);
  });

  it("fanotify: inode and mount marks; a filesystem mark is refused", async (t) => {
    const fd = w.num("fanotify");
    if (fd < 0) {
      console.warn(`skipping fanotify: fanotify_init failed with errno ${w.value("fanotify_errno")}`);
      t.skip();
    }
    const { dir, dumped } = await dump([fd]);
    const info = readFdinfo(w.pid, fd).fanotify!;
    const mounts = parseMountinfo(readFileSync(`/proc/${w.pid}/mountinfo`, "utf8"));
    const owned = statSync(join(cwd, "owned.txt"), { bigint: true });
    const entry = dumped.get(fd)!.entry;
    expect(entry).toMatchObject({ flags: 0o4002, faflags: info.group!.flags, evflags: info.group!.eventFlags });
    const marks = info.marks.map((m) =>
      m.target === "mount"
        ? { id: 0, type: 2, mflags: m.mflags, mask: m.mask, ignored_mask: m.ignoredMask, s_dev: mounts.find((x) => x.mountId === m.mntId)!.sdev, me: { mnt_id: m.mntId, path: mounts.find((x) => x.mountId === m.mntId)!.mountPoint } }
        : {
            id: 0, type: 1, mflags: m.mflags, mask: m.mask, ignored_mask: m.ignoredMask, s_dev: m.sdev,
            ie: { i_ino: owned.ino, f_handle: { bytes: m.fhandle!.bytes, type: m.fhandle!.type, handle: handleWords(m.fhandle!.handle), path: join(cwd, "owned.txt") } },
          },
    );
    expect(entry.mark).toEqual(marks);
    expect(marks.map((m) => m.type).sort()).toEqual([1, 2]);
    critReadsAll(dir);

    const sb = w.num("fanotify_sb");
    await expect(dump([sb])).rejects.toThrow(/FANOTIFY\): a sb mark/);
    const skipped = await dump([sb], { skipUnsupported: true });
    expect(skipped.dumped.get(sb)!.entry.mark).toEqual([]);
    expect(skipped.ctx.stats.skipped).toHaveLength(1);
  });

  it("a pty pair: REG + TTY entries and one tty-info entry per side, as set up", async () => {
    const master = w.num("pty_master");
    const slave = w.num("pty_slave");
    const index = w.num("pty_index");
    const { dir, dumped } = await dump([master, slave]);
    const files = await entriesOf(dir, "files.img");
    const info = await entriesOf(dir, "tty-info.img");

    for (const [fd, isMaster] of [[master, true], [slave, false]] as const) {
      const tty = dumped.get(fd)!.entry;
      expect(tty).toMatchObject({ tty_info_id: index * 2 + (isMaster ? 1 : 0), flags: readFdinfo(w.pid, fd).flags & ~0o2000000 });
      const reg = fileEntry(files, tty.regf_id as number);
      expect(files.indexOf(reg)).toBeLessThan(files.indexOf(fileEntry(files, dumped.get(fd)!.id)));
      expect((reg.reg as ImageMessage).name).toBe(readFdLink(w.pid, fd));
    }
    const byId = new Map(info.map((i) => [i.id as number, i]));
    const st = statSync(`/dev/pts/${index}`, { bigint: true });
    const cc = Buffer.alloc(32);
    Buffer.from(w.value("tty_cc"), "hex").copy(cc);
    const ccWords = [...Array(19).keys()].map((i) => (i < 8 ? cc.readUInt32LE(i * 4) : 0));
    const slaveInfo = byId.get(index * 2)!;
    expect(slaveInfo).toMatchObject({
      type: 1, pty: { index }, sid: w.pid, pgrp: w.pid, exclusive: true, locked: false,
      rdev: Number(st.rdev), dev: Number(st.dev), uid: Number(st.uid), gid: Number(st.gid),
      termios: {
        c_iflag: w.num("tty_iflag"), c_oflag: w.num("tty_oflag"), c_cflag: w.num("tty_cflag"), c_lflag: w.num("tty_lflag"),
        c_line: w.num("tty_line"), c_ispeed: 0, c_ospeed: 0, c_cc: ccWords,
      },
      winsize: { ws_row: 33, ws_col: 111, ws_xpixel: 0, ws_ypixel: 0 },
    });
    expect(slaveInfo.termios_locked).toBeDefined();
    expect(byId.get(index * 2 + 1)).toMatchObject({ type: 1, pty: { index }, sid: w.pid, pgrp: w.pid, packet_mode: true });
    critReadsAll(dir);
  });

  it("pidfds: of a live process, and of one that has exited", async () => {
    const parent = w.num("pidfd_parent");
    const dead = w.num("pidfd_dead");
    const { dir, dumped } = await dump([parent, dead]);
    expect(w.num("parent")).toBe(process.pid);
    expect(dumped.get(parent)!.entry).toMatchObject({ nspid: process.pid, flags: 0, ino: Number(readFdinfo(w.pid, parent).ino! & 0xffffffffn) });
    expect(dumped.get(dead)!.entry).toMatchObject({ nspid: -1, flags: 0 });
    // Debian's crit (CRIU 3.17) predates pidfds: it reads the file entries but not the pidfd field.
    const doc = debianCrit(dir, "files.img");
    if (doc) expect(doc.entries).toHaveLength(2);
  });

  it("namespace files: ns_cflag, and one ns_id per namespace in the dump", async () => {
    const net = w.num("netns");
    const uts = w.num("utsns");
    const { ctx, dir, dumped } = await dump([net, uts]);
    const kid = (fd: number) => BigInt(/\[(\d+)\]/.exec(readFdLink(w.pid, fd))![1]);
    expect(dumped.get(net)!.entry).toEqual({ id: dumped.get(net)!.id, ns_id: 1, ns_cflag: 0x40000000, flags: 0o100000 });
    expect(dumped.get(uts)!.entry).toEqual({ id: dumped.get(uts)!.id, ns_id: 2, ns_cflag: 0x04000000, flags: 0o100000 });
    expect(namespaceIds(ctx).lookup("net", kid(net))).toBe(1);
    expect(namespaceIds(ctx).idFor("uts", kid(uts))).toBe(2);
    critReadsAll(dir);
  });

  it("a sparse memfd open twice: one inode entry, only the written page saved", async () => {
    const a = w.num("memfd_holey");
    const b = w.num("memfd_holey2");
    const { dir, dumped } = await dump([a, b]);
    expect(dumped.get(a)!.entry).toMatchObject({ inode_id: 1, flags: 0o100002, pos: 0n });
    expect(dumped.get(b)!.entry).toMatchObject({ inode_id: 1, flags: 0o100000, pos: 0n });
    const ino = Number(readFdinfo(w.pid, a).ino);
    expect(await entriesOf(dir, "memfd.img")).toEqual([
      { name: "holey", uid: 0, gid: 0, size: 12288n, shmid: ino, seals: 1, inode_id: 1n, mode: 0o100777 },
    ]);
    expect(await entriesOf(dir, `pagemap-shmem-${ino}.img`)).toEqual([
      { pages_id: 1 },
      { vaddr: 8192n, compat_nr_pages: 0, flags: 4, nr_pages: 1n },
    ]);
    const page = Buffer.alloc(4096);
    page.fill("M", 10, 110);
    expect(readFileSync(join(dir, "pages-1.img")).equals(page)).toBe(true);
    const crit = await critJson(dir, "memfd.img");
    expect(crit.entries[0].seals).toBe("F_SEAL_SEAL");
    critReadsAll(dir);
  });

  const refusals: [key: string, kind: string, why: RegExp][] = [
    ["linked_elsewhere", "REG", /1 other link\(s\); saving it needs a new hard link/],
    ["replaced", "REG", /now names another file/],
    ["packet_pipe", "PIPE", /packet-mode pipes \(O_DIRECT\)/],
    ["alarm_timer", "TIMERFD", /clock 9 is not supported/],
    ["pidfd_thread", "PIDFD", /thread pidfds \(PIDFD_THREAD\)/],
    ["dead_proc", "REG", /which has exited/],
    ["pty2_slave", "TTY", /6 bytes of unread terminal input/],
  ];
  it.each(refusals)("refuses %s (%s) with pid, fd, kind and why", async (key, kind, why) => {
    const fd = w.num(key);
    if (fd < 0) {
      console.warn(`skipping the ${key} refusal: the workload could not create it on this kernel`);
      return;
    }
    const err = await dump([fd]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as Error).message).toMatch(new RegExp(`^pid ${w.pid} fd ${fd} \\(${kind}\\): `));
    expect((err as Error).message).toMatch(why);
  });

  it("with skipUnsupported, a tty with unread input is saved without it and the loss recorded", async () => {
    const fd = w.num("pty2_slave");
    const { ctx, dumped } = await dump([fd], { skipUnsupported: true });
    expect(dumped.get(fd)!.kind.type).toBe("TTY");
    expect(ctx.stats.skipped).toEqual([{ pid: w.pid, fd, kind: "TTY", why: expect.stringMatching(/unread terminal input/) }]);
  });
});
