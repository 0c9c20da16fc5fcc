/**
 * The fds-zoo fixture's own workload (src/fds_zoo.c), run in a network
 * namespace of its own, its sockets (fds 11-15) dumped by crtool's socket
 * kinds and compared with what CRIU 4.2 wrote for them: every field, every
 * value, except inodes, peers (inodes) and file ids. The private namespace
 * keeps the fixture's fixed ports and abstract name from meeting anything
 * else on the machine — the same values as CRIU's are expected — and has
 * crtool ask sock_diag inside another namespace than its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FdKind } from "../../src/contract/fd-kind.js";
import { namespaceIds } from "../../src/fds/ns-ids.js";
import { namespaceIdsOf } from "../../src/checkpoint/task-images.js";
import { unixSocketKind } from "../../src/fds/socket-unix.js";
import { inetSocketKind } from "../../src/fds/socket-inet.js";
import { netlinkSocketKind } from "../../src/fds/socket-netlink.js";
import { packetSocketKind } from "../../src/fds/socket-packet.js";
import { ioctlRaw } from "../../src/kernel/index.js";
import {
  HAVE_ZOO, TestDumpContext, Workload, ZOO, compile, critJson, debianCrit, dumpFds, scratch, skipReason, type CritDocument, type Dumped,
} from "./helpers.js";

/** Whether this machine lets root create a network namespace (containers may not); unknown without unshare(1). */
function netnsReason(): string | undefined {
  const r = spawnSync("unshare", ["--net", "true"], { stdio: "ignore" });
  if (r.error) return undefined;
  return r.status === 0 ? undefined : "a network namespace cannot be created here (unshare --net failed)";
}

const reason = skipReason() ?? (HAVE_ZOO ? undefined : `the fds-zoo fixture is not at ${ZOO} (set CRTOOL_FIXTURES)`) ?? netnsReason();
if (reason) console.warn(`skipping fds-zoo socket comparison: ${reason}`);

const SOCKET_KINDS: readonly FdKind[] = [unixSocketKind, inetSocketKind, netlinkSocketKind, packetSocketKind];
const SOCKET_FDS = [11, 12, 13, 14, 15];

/** Starts the program named by TARGET in a new network namespace whose loopback is up. */
const LAUNCHER_C = String.raw`
#define _GNU_SOURCE
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct ifreq ifr;
	int s;

	if (argc < 2 || unshare(CLONE_NEWNET)) { perror("unshare"); return 1; }
	s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr)) { perror("lo"); return 1; }
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr)) { perror("lo up"); return 1; }
	close(s);
	execl(TARGET, TARGET, argv[1], (char *)NULL);
	perror("exec");
	return 1;
}
`;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A crit entry without file ids (the entry's and its message's), inodes and peers (inodes). */
function comparable(v: Json, depth = 0): Json {
  if (Array.isArray(v)) return v.map((x) => comparable(x, depth + 1));
  if (v && typeof v === "object") {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) if (k !== "ino" && k !== "peer" && !(k === "id" && depth <= 1)) out[k] = comparable(x, depth + 1);
    return out;
  }
  return v;
}

function golden(name: string): CritDocument {
  return JSON.parse(readFileSync(join(ZOO, "golden", name), "utf8")) as CritDocument;
}

describe.skipIf(reason)("fds-zoo sockets dumped by crtool vs CRIU 4.2", () => {
  let work: ReturnType<typeof scratch>;
  let zoo: Workload;
  let ctx: TestDumpContext;
  let dumped: Map<number, Dumped>;
  let files: CritDocument;
  const goldenId = new Map<number, number>();
  let fdsBefore = 0;

  beforeAll(async () => {
    fdsBefore = readdirSync("/proc/self/fd").length;
    work = scratch("zoo-sockets");
    const bin = compile(join(ZOO, "src", "fds_zoo.c"), work.dir, "fds_zoo");
    writeFileSync(join(work.dir, "launcher.c"), LAUNCHER_C);
    const launcher = join(work.dir, "in_new_netns");
    const gcc = spawnSync("gcc", ["-O2", "-Wall", `-DTARGET="${bin}"`, "-o", launcher, join(work.dir, "launcher.c")], { encoding: "utf8" });
    if (gcc.status !== 0) throw new Error(`gcc launcher.c failed: ${gcc.stderr}`);
    const cwd = join(work.dir, "data");
    mkdirSync(cwd);
    mkdirSync(join(work.dir, "images"));
    zoo = await Workload.start(launcher, cwd, join(work.dir, "program-info.txt"));
    ctx = new TestDumpContext(join(work.dir, "images"));
    // The tree's namespaces first, as the orchestrator registers them: the network namespace gets id 2, as in CRIU's dump.
    namespaceIdsOf(zoo.pid, namespaceIds(ctx));
    dumped = await dumpFds(ctx, zoo.pid, SOCKET_FDS, SOCKET_KINDS);
    ctx.images.closeAll();
    files = await critJson(ctx.dir, "files.img");
    for (const e of golden("fdinfo-2.img.pretty.json").entries) goldenId.set(e.fd as number, e.id as number);
  });

  afterAll(async () => {
    await zoo?.stop();
    ctx?.close();
    work?.cleanup();
    expect(readdirSync("/proc/self/fd").length).toBe(fdsBefore);
  });

  function goldenFile(fd: number): Json {
    return golden("files.img.pretty.json").entries.find((x) => x.id === goldenId.get(fd)) as Json;
  }

  function ourFile(fd: number): Json {
    return files.entries.find((x) => x.id === dumped.get(fd)!.id) as Json;
  }

  it("runs in a network namespace other than crtool's", () => {
    expect(statSync(`/proc/${zoo.pid}/ns/net`).ino).not.toBe(statSync("/proc/self/ns/net").ino);
  });

  it.each(SOCKET_FDS)("fd %i: CRIU's entry, field for field and value for value", (fd) => {
    const want = goldenFile(fd);
    const got = ourFile(fd);
    expect(comparable(got)).toEqual(comparable(want));
  });

  it("peers point at each other's inodes, and inodes are the sockets'", () => {
    const ino = (fd: number): number => statSync(`/proc/${zoo.pid}/fd/${fd}`).ino;
    for (const fd of SOCKET_FDS) expect(dumped.get(fd)!.entry.ino).toBe(ino(fd));
    expect(dumped.get(11)!.entry.peer).toBe(ino(12));
    expect(dumped.get(12)!.entry.peer).toBe(ino(11));
  });

  it("sk-queues.img: CRIU's entries (one 27-byte entry for the two writes), for our file ids", async () => {
    const ours = await critJson(ctx.dir, "sk-queues.img");
    const want = golden("sk-queues.img.pretty.json");
    const fdOfGoldenId = new Map([...goldenId].map(([fd, id]) => [id, fd]));
    expect(ours.entries).toEqual(want.entries.map((e) => ({ ...e, id_for: dumped.get(fdOfGoldenId.get(e.id_for as number)!)!.id })));
  });

  it("the queues are still there after the dump", () => {
    const b = Buffer.alloc(4);
    for (const [fd, n] of [[11, 14], [12, 27]] as const) {
      expect(ioctlRaw(ctx.grabPidFd(zoo.pid, fd), 0x541b /* FIONREAD */, b)).toBe(0);
      expect(b.readInt32LE(0)).toBe(n);
    }
  });

  it("Debian's crit reads the images as it reads CRIU's", () => {
    const ours = debianCrit(ctx.dir, "files.img");
    if (!ours) return;
    const theirs = debianCrit(join(ZOO, "images"), "files.img")!;
    for (const fd of SOCKET_FDS) {
      const got = ours.entries.find((e) => e.id === dumped.get(fd)!.id) as Json;
      const want = theirs.entries.find((e) => e.id === goldenId.get(fd)) as Json;
      expect(comparable(got), `fd ${fd}`).toEqual(comparable(want));
    }
    const queue = (doc: CritDocument): Json[] => doc.entries.map((e) => [e.length as number, e.extra as string]);
    expect(queue(debianCrit(ctx.dir, "sk-queues.img")!)).toEqual(queue(debianCrit(join(ZOO, "images"), "sk-queues.img")!));
  });
});
