/**
 * Restoring unix socketpairs: a live workload (a C program compiled at test
 * time) holds a stream, a dgram and a seqpacket socketpair with data queued
 * both ways (one seqpacket end shut for writing), options and status flags
 * set, plus sockets crtool must refuse (one end of a pair whose other end is
 * not dumped, an abstract-bound socket, a listener, an unconnected one). The
 * fds are dumped with crtool's dump code and fd table, the workload is
 * killed by pid, and every end is restored in this test process through a
 * test RestoreContext: types, queued data read back in order (with message
 * boundaries for dgram/seqpacket), the ends connected to each other, the
 * shutdown, options and O_NONBLOCK; and a re-dump of the restored sockets
 * must equal the original dump (but for inodes and ids).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ImageMessage } from "../../src/images/wire/message.js";
import { ImageReader } from "../../src/images/image-reader.js";
import { NotSupportedError } from "../../src/images/errors.js";
import { FD_TYPE_NUMBERS } from "../../src/contract/fd-kind.js";
import { closeQuietly } from "../../src/fds/restore-fd.js";
import { unixSocketKind } from "../../src/fds/socket-unix.js";
import { namespaceIds } from "../../src/fds/ns-ids.js";
import { namespaceIdsOf } from "../../src/checkpoint/task-images.js";
import { getsockoptInt, sendmsg } from "../../src/kernel/index.js";
import { withDiagSocketFor } from "../../src/fds/sock-diag/netns.js";
import { unixDiagByIno } from "../../src/fds/sock-diag/unix-diag.js";
import {
  MSG_DONTWAIT, SOL_SOCKET, SO_BUF_LOCK, SO_PASSCRED, SO_PEEK_OFF, SO_RCVBUF, SO_SNDBUF, SO_TYPE,
} from "../../src/fds/sock-diag/constants.js";
import { fcntl, isErrno } from "../../src/kernel/index.js";
import { TestDumpContext, Workload, compile, dumpFds, entriesOf, scratch, skipReason, type Dumped } from "./helpers.js";
import { TestRestoreContext, fileFlagsOf, openFds, drain } from "./restore-helpers.js";

const reason = skipReason();
if (reason) console.warn(`skipping socketpair restore tests: ${reason}`);

const O_NONBLOCK = 0o4000;
const F_GETSIG = 11;
const SIGUSR2 = 12;

const WORKLOAD_C = String.raw`/* Socketpair workload for crtool's unix socket restore tests: writes
 * "key=value" lines to READY_FILE (atomically), then pauses. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char info[4096];
static size_t info_len;

static void die(const char *what) { perror(what); exit(1); }
static void note(const char *key, long v) { info_len += snprintf(info + info_len, sizeof(info) - info_len, "%s=%ld\n", key, v); }
static void xsend(int fd, const char *s) { if (send(fd, s, strlen(s), 0) != (ssize_t)strlen(s)) die("send"); }
static void on(int fd, int name, int v) { if (setsockopt(fd, SOL_SOCKET, name, &v, sizeof(v))) die("setsockopt"); }
static void nonblock(int fd) { if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) die("O_NONBLOCK"); }

int main(int argc, char **argv)
{
	int sp[2], dp[2], qp[2], pc[2], ln[2], s;
	struct sockaddr_un sun;
	socklen_t l;
	char tmp[256];

	if (argc < 2) return 2;

	/* stream: two writes queued for sp1, one for sp0; sp0 with its own SO_SNDBUF, sp1 non-blocking with a signal */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp)) die("socketpair stream");
	on(sp[0], SO_SNDBUF, 65536);
	xsend(sp[0], "hello from sp0"); xsend(sp[0], "|second write"); xsend(sp[1], "reply from sp1");
	nonblock(sp[1]);
	if (fcntl(sp[1], F_SETSIG, SIGUSR2)) die("F_SETSIG");
	note("sp0", sp[0]); note("sp1", sp[1]);

	/* dgram: two datagrams queued for dp1, one for dp0; dp1 with its own SO_RCVBUF, dp0 non-blocking */
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dp)) die("socketpair dgram");
	on(dp[1], SO_RCVBUF, 20000);
	xsend(dp[0], "first datagram"); xsend(dp[0], "2nd"); xsend(dp[1], "back");
	nonblock(dp[0]);
	note("dp0", dp[0]); note("dp1", dp[1]);

	/* seqpacket: two records queued for qp1, one for qp0, then qp0 shut for writing */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, qp)) die("socketpair seqpacket");
	xsend(qp[0], "seq one"); xsend(qp[0], "seq two, longer"); xsend(qp[1], "seq back");
	if (shutdown(qp[0], SHUT_WR)) die("shutdown");
	note("qp0", qp[0]); note("qp1", qp[1]);

	/* stream, nothing queued, SO_PASSCRED on pc1 */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pc)) die("socketpair passcred");
	on(pc[1], SO_PASSCRED, 1);
	note("pc0", pc[0]); note("pc1", pc[1]);

	/* refused: one end of a pair dumped alone, an abstract dgram, an abstract listener, an unconnected socket */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, ln)) die("socketpair lone");
	note("lone", ln[0]);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	memset(&sun, 0, sizeof(sun)); sun.sun_family = AF_UNIX;
	l = offsetof(struct sockaddr_un, sun_path) + 1 + snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "crtool-restore-sp-%d", getpid());
	if (s < 0 || bind(s, (struct sockaddr *)&sun, l)) die("bind abstract");
	note("abstract", s);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	l = offsetof(struct sockaddr_un, sun_path) + 1 + snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "crtool-restore-spl-%d", getpid());
	if (s < 0 || bind(s, (struct sockaddr *)&sun, l) || listen(s, 3)) die("listen");
	note("listener", s);
	s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	note("unconnected", s);

	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	{
		FILE *f = fopen(tmp, "w");
		if (!f || fwrite(info, 1, info_len, f) != info_len || fclose(f) || rename(tmp, argv[1])) die("ready file");
	}
	for (;;)
		pause();
}
`;

const PAIRS = ["sp0", "sp1", "dp0", "dp1", "qp0", "qp1", "pc0", "pc1"] as const;
const REFUSED = ["lone", "abstract", "listener", "unconnected"] as const;

/** Dumps `fds` of `pid` with the unix socket kind, and the fd table a restore reads (ids-PID.img, fdinfo-1.img). */
async function dumpSockets(pid: number, fds: number[], dir: string): Promise<Map<number, Dumped>> {
  const ctx = new TestDumpContext(dir);
  try {
    // The tree's namespaces first, as the orchestrator registers them.
    namespaceIdsOf(pid, namespaceIds(ctx));
    const dumped = await dumpFds(ctx, pid, fds, [unixSocketKind]);
    ctx.image(`ids-${pid}.img`, "IDS").append({ vm_id: 1, files_id: 1, fs_id: 1, sighand_id: 1 });
    const table = ctx.image("fdinfo-1.img", "FDINFO");
    for (const [fd, d] of [...dumped].sort((a, b) => a[0] - b[0])) table.append({ id: d.id, flags: 0, type: FD_TYPE_NUMBERS.UNIXSK, fd });
    return dumped;
  } finally {
    ctx.close();
  }
}

function sendText(fd: number, text: string): number {
  return sendmsg(fd, Buffer.from(text), undefined, MSG_DONTWAIT | 0x4000 /* MSG_NOSIGNAL */);
}

/** The inode of crtool's socket fd and its peer's, from unix_diag. */
function diagOf(fd: number): { ino: number; peer: number; shutdown: number } {
  const ino = fstatSync(fd).ino;
  const d = withDiagSocketFor(fd, (diag) => unixDiagByIno(diag, ino));
  if (!d) throw new Error(`unix_diag does not know socket ${ino}`);
  return { ino, peer: d.peer, shutdown: d.shutdown };
}

describe.skipIf(reason)("unix socketpairs: dump, kill, restore", () => {
  let work: ReturnType<typeof scratch>;
  let w: Workload | undefined;
  let dir: string;
  let dumped: Map<number, Dumped>;
  let ctx: TestRestoreContext;
  let fdsBefore: number;
  /** Restored fds by workload key. */
  const ours = new Map<string, number>();

  const num = (key: string): number => w!.num(key);
  const entry = (key: string): ImageMessage => dumped.get(num(key))!.entry;

  /** Restores the file the workload had at `key`'s fd, as the orchestrator would (closed by ctx.rollback()). */
  async function restore(key: string): Promise<number> {
    const id = ctx.fileIdOfFd(num(key))!;
    const { fd } = await unixSocketKind.restore(ctx.fileEntry(id)!.usk as ImageMessage, id, ctx);
    ctx.onRollback(() => closeQuietly(fd));
    return fd;
  }

  beforeAll(async () => {
    fdsBefore = openFds().length;
    work = scratch("restore-socketpair");
    writeFileSync(join(work.dir, "socketpair_workload.c"), WORKLOAD_C);
    const bin = compile(join(work.dir, "socketpair_workload.c"), work.dir, "socketpair_workload");
    dir = join(work.dir, "images");
    w = await Workload.start(bin, work.dir, join(work.dir, "ready.txt"));
    try {
      mkdirSync(dir);
      dumped = await dumpSockets(w.pid, [...PAIRS, ...REFUSED].map((k) => w!.num(k)), dir);
    } finally {
      // Killed by pid before anything is restored: the restore depends on the images only.
      await w.stop();
    }
    ctx = await TestRestoreContext.open(dir, w.pid);
    for (const key of PAIRS) ours.set(key, await restore(key));
  });

  afterAll(async () => {
    await w?.stop();
    ctx?.rollback();
    work?.cleanup();
    expect(openFds().length).toBe(fdsBefore);
  });

  it("the dump recorded what the workload set up", async () => {
    expect(entry("qp0")).toMatchObject({ type: 5, state: 1, shutdown: 2 });
    expect(entry("qp1")).toMatchObject({ type: 5, state: 1, shutdown: 1 });
    // Each receive queue in sk-queues.img, by the key of the end that held it (the stream's two writes joined).
    const keyOf = new Map(PAIRS.map((k) => [entry(k).id as number, k]));
    const queues = await entriesOf(dir, "sk-queues.img");
    expect(queues.map((q) => `${keyOf.get(q.id_for as number)}:${q.length}`).sort()).toEqual(
      ["sp0:14", "sp1:27", "dp0:4", "dp1:14", "dp1:3", "qp0:8", "qp1:7", "qp1:15"].sort(),
    );
  });

  it("re-dumping the restored sockets gives the same entries and queues (but inodes, ids and write memory)", async () => {
    const again = join(work.dir, "again");
    mkdirSync(again);
    const fds = PAIRS.map((k) => ours.get(k)!);
    const redumped = await dumpSockets(process.pid, fds, again);
    const strip = (e: ImageMessage): ImageMessage => {
      const { id: _id, ino: _ino, peer: _peer, backlog: _backlog, ns_id: _ns, ...rest } = e;
      return rest;
    };
    const idMap = new Map<number, number>();
    for (const [i, key] of PAIRS.entries()) {
      const before = entry(key);
      const after = redumped.get(fds[i])!.entry;
      expect(strip(after), key).toEqual(strip(before));
      idMap.set(before.id as number, after.id as number);
      // The peer is the other restored end.
      const other = key.endsWith("0") ? key.replace(/0$/, "1") : key.replace(/1$/, "0");
      expect(after.peer, key).toBe(fstatSync(ours.get(other)!).ino);
    }
    // Queues: same packets, same order, for the matching files.
    const payloads = async (d: string, map?: Map<number, number>): Promise<string[]> => {
      const reader = await ImageReader.open(readFileSync(join(d, "sk-queues.img")), { name: "sk-queues.img" });
      const out: string[] = [];
      for await (const e of reader.entries()) {
        const idFor = e.message.id_for as number;
        out.push(`${map ? map.get(idFor) : idFor}:${Buffer.from(e.payload as Uint8Array).toString()}`);
      }
      return out.sort();
    };
    expect(await payloads(again)).toEqual(await payloads(dir, idMap));
    // Peeking for the re-dump consumed nothing, and left the peek offset off.
    expect(getsockoptInt(ours.get("sp1")!, SOL_SOCKET, SO_PEEK_OFF)).toBe(-1);
  });

  it("each end has its type, and the two ends of each pair are each other's peer", () => {
    const types: Record<string, number> = { sp: 1, dp: 2, qp: 5, pc: 1 };
    for (const key of PAIRS) expect(getsockoptInt(ours.get(key)!, SOL_SOCKET, SO_TYPE), key).toBe(types[key.slice(0, 2)]);
    for (const p of ["sp", "dp", "qp", "pc"]) {
      const a = diagOf(ours.get(`${p}0`)!);
      const b = diagOf(ours.get(`${p}1`)!);
      expect(a.peer, p).toBe(b.ino);
      expect(b.peer, p).toBe(a.ino);
    }
  });

  it("options, status flags and the signal: SO_SNDBUF/SO_RCVBUF as recorded, SO_PASSCRED, O_NONBLOCK, F_SETSIG", () => {
    const sp0 = ours.get("sp0")!;
    const dp1 = ours.get("dp1")!;
    const opts = (key: string): Record<string, unknown> => entry(key).opts as Record<string, unknown>;
    // The workload's setsockopt(65536) reads back doubled; the default is larger.
    expect(getsockoptInt(sp0, SOL_SOCKET, SO_SNDBUF)).toBe(131072);
    expect(getsockoptInt(dp1, SOL_SOCKET, SO_RCVBUF)).toBe(40000);
    for (const key of PAIRS) {
      const fd = ours.get(key)!;
      expect(getsockoptInt(fd, SOL_SOCKET, SO_SNDBUF), key).toBe(opts(key).so_sndbuf);
      expect(getsockoptInt(fd, SOL_SOCKET, SO_RCVBUF), key).toBe(opts(key).so_rcvbuf);
      expect(getsockoptInt(fd, SOL_SOCKET, SO_BUF_LOCK), key).toBe(opts(key).so_buf_lock);
      expect(getsockoptInt(fd, SOL_SOCKET, SO_PASSCRED), key).toBe(key === "pc1" ? 1 : 0);
      expect(fileFlagsOf(fd) & O_NONBLOCK, key).toBe(key === "sp1" || key === "dp0" ? O_NONBLOCK : 0);
      expect(fileFlagsOf(fd), key).toBe(entry(key).flags);
    }
    expect(getsockoptInt(sp0, SOL_SOCKET, SO_BUF_LOCK)).toBe(1); // SOCK_SNDBUF_LOCK, from the workload's SO_SNDBUF
    expect(fcntl(ours.get("sp1")!, F_GETSIG)).toBe(SIGUSR2);
    expect(fcntl(sp0, F_GETSIG)).toBe(0);
  });

  it("the seqpacket shutdown: qp0 cannot send, qp1 reads end-of-file after its records", () => {
    expect(diagOf(ours.get("qp0")!).shutdown).toBe(2);
    expect(diagOf(ours.get("qp1")!).shutdown).toBe(1);
    let err: unknown;
    try {
      sendText(ours.get("qp0")!, "after shutdown");
    } catch (e) {
      err = e;
    }
    expect(isErrno(err, "EPIPE"), String(err)).toBe(true);
  });

  it("queued data reads back in order: the stream's bytes, datagrams and records with their boundaries", () => {
    expect(drain(ours.get("sp1")!)).toEqual({ reads: ["hello from sp0|second write"], end: "EAGAIN" });
    expect(drain(ours.get("sp0")!)).toEqual({ reads: ["reply from sp1"], end: "EAGAIN" });
    expect(drain(ours.get("dp1")!)).toEqual({ reads: ["first datagram", "2nd"], end: "EAGAIN" });
    expect(drain(ours.get("dp0")!)).toEqual({ reads: ["back"], end: "EAGAIN" });
    expect(drain(ours.get("qp1")!)).toEqual({ reads: ["seq one", "seq two, longer"], end: "EOF" });
    expect(drain(ours.get("qp0")!)).toEqual({ reads: ["seq back"], end: "EAGAIN" });
    expect(drain(ours.get("pc0")!)).toEqual({ reads: [], end: "EAGAIN" });
    expect(drain(ours.get("pc1")!)).toEqual({ reads: [], end: "EAGAIN" });
  });

  it("the ends are connected to each other: what one end sends, the other receives", () => {
    for (const [from, to] of [["sp0", "sp1"], ["sp1", "sp0"], ["dp0", "dp1"], ["dp1", "dp0"], ["qp1", "qp0"], ["pc0", "pc1"], ["pc1", "pc0"]]) {
      expect(sendText(ours.get(from)!, `${from} to ${to}`)).toBe(`${from} to ${to}`.length);
      expect(drain(ours.get(to)!).reads, `${from} -> ${to}`).toEqual([`${from} to ${to}`]);
    }
    // Boundaries hold for new datagrams too.
    sendText(ours.get("dp0")!, "a");
    sendText(ours.get("dp0")!, "bc");
    expect(drain(ours.get("dp1")!).reads).toEqual(["a", "bc"]);
  });

  it("refuses what is not a socketpair with both ends dumped, naming the file, socket and why", async () => {
    const expectations: Record<(typeof REFUSED)[number], RegExp> = {
      lone: /is not in the dump/,
      abstract: /unix dgram socket \d+ \(abstract name "@crtool-restore-sp-\d+"\): it is bound to abstract name/,
      listener: /unix stream socket \d+ \(abstract name "@crtool-restore-spl-\d+"\): it is bound/,
      unconnected: /unix seqpacket socket \d+ \(unnamed\): it is not connected to anything/,
    };
    for (const key of REFUSED) {
      const id = ctx.fileIdOfFd(num(key))!;
      const before = openFds().length;
      const err = await restore(key).then(() => undefined, (e: unknown) => e);
      expect(err, key).toBeInstanceOf(NotSupportedError);
      const msg = (err as Error).message;
      expect(msg, key).toContain(`file ${id} (UNIXSK): `);
      expect(msg, key).toContain(`socket ${entry(key).ino}`);
      expect(msg, key).toMatch(expectations[key]);
      expect(openFds().length, key).toBe(before);
    }
  });
});

describe.skipIf(reason)("unix socketpairs: one end restored, the other left to the rollback", () => {
  it("the end no entry took is closed by the rollback; nothing is left open", async () => {
    const fdsBefore = openFds().length;
    const work = scratch("restore-socketpair-half");
    let w: Workload | undefined;
    try {
      writeFileSync(join(work.dir, "w.c"), WORKLOAD_C);
      const bin = compile(join(work.dir, "w.c"), work.dir, "w");
      w = await Workload.start(bin, work.dir, join(work.dir, "ready.txt"));
      const dir = join(work.dir, "images");
      mkdirSync(dir);
      await dumpSockets(w.pid, [w.num("sp0"), w.num("sp1")], dir);
      await w.stop();
      const ctx = await TestRestoreContext.open(dir, w.pid);
      const id = ctx.fileIdOfFd(w.num("sp1"))!;
      const { fd } = await unixSocketKind.restore(ctx.fileEntry(id)!.usk as ImageMessage, id, ctx);
      ctx.onRollback(() => closeQuietly(fd));
      // Its end plus the other end, held for sp0's entry.
      expect(openFds().length).toBe(fdsBefore + 2);
      expect(drain(fd).reads).toEqual(["hello from sp0|second write"]);
      ctx.rollback();
      expect(openFds().length).toBe(fdsBefore);
    } finally {
      await w?.stop();
      work.cleanup();
    }
  });
});
