/**
 * The socket kinds on a live workload (a C program compiled at test time)
 * holding one socket per case: a unix stream socketpair with data queued both
 * ways, a dgram socketpair with datagrams queued, abstract / path / relative /
 * unlinked names, a unix listener with a connection not yet accepted, TCP and
 * UDP over IPv4 (listener, bound, connected, unbound), an IPv6 listener on
 * ::1, a TCP socket with many options set, NETLINK_ROUTE bound with groups,
 * an unbound netlink socket and an AF_PACKET socket; plus the states crtool
 * refuses (established TCP, pending connections, queued credentials).
 *
 * Each dump is checked field by field against what the workload set up,
 * against `ss` when it is installed, against the fields CRIU 4.2 wrote for
 * the same kinds in the fds-zoo fixture, and through Debian's crit. Queues
 * must still hold their data afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NotSupportedError } from "../../src/images/errors.js";
import type { ImageMessage } from "../../src/images/wire/message.js";
import type { FdKind } from "../../src/contract/fd-kind.js";
import { namespaceIds } from "../../src/fds/ns-ids.js";
import { namespaceIdsOf } from "../../src/checkpoint/task-images.js";
import { ioctlRaw } from "../../src/kernel/index.js";
import { unixSocketKind } from "../../src/fds/socket-unix.js";
import { inetSocketKind } from "../../src/fds/socket-inet.js";
import { netlinkSocketKind } from "../../src/fds/socket-netlink.js";
import { packetSocketKind } from "../../src/fds/socket-packet.js";
import { peekQueue } from "../../src/fds/socket-queue.js";
import { getsockoptInt } from "../../src/kernel/index.js";
import { SOL_SOCKET, SO_PEEK_OFF } from "../../src/fds/sock-diag/constants.js";
import { FD_KINDS_UNDER_TEST } from "./kinds.js";
import {
  HAVE_ZOO, TestDumpContext, Workload, ZOO, compile, critJson, debianCrit, dumpFds, entriesOf, scratch, skipReason, taskFd, warnOnce,
  type CritDocument,
} from "./helpers.js";

const reason = skipReason();
if (reason) console.warn(`skipping live socket kind tests: ${reason}`);

const SOCKET_KINDS: readonly FdKind[] = [unixSocketKind, inetSocketKind, netlinkSocketKind, packetSocketKind];
const HAVE_SS = spawnSync("ss", ["-V"], { stdio: "ignore" }).status === 0;
const FIONREAD = 0x541b;
const O_NONBLOCK = 0o4000;

const WORKLOAD_C = String.raw`/* Socket workload for crtool's socket kind tests: holds one socket of each
 * case, writes "key=value" lines to READY_FILE (atomically), then pauses. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char info[8192];
static size_t info_len;

static void die(const char *what) { perror(what); exit(1); }
static void note(const char *key, long v) { info_len += snprintf(info + info_len, sizeof(info) - info_len, "%s=%ld\n", key, v); }
static void xwrite(int fd, const void *b, size_t n) { if (write(fd, b, n) != (ssize_t)n) die("write"); }
static void on(int fd, int level, int name, int v) { if (setsockopt(fd, level, name, &v, sizeof(v))) die("setsockopt"); }
static int port_of(int fd) {
	struct sockaddr_storage ss; socklen_t l = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &l)) die("getsockname");
	return ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in sockaddr_in6 */
}
static socklen_t unix_addr(struct sockaddr_un *sun, const char *name, int abstract) {
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path + abstract, name, strlen(name));
	return offsetof(struct sockaddr_un, sun_path) + abstract + strlen(name) + !abstract;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun; struct sockaddr_in sin; struct sockaddr_in6 sin6; socklen_t l;
	char name[64], tmp[4200];
	int sp[2], dp[2], cp[2], s, t, u, c;

	if (argc < 2) return 2;

	/* unix stream socketpair, queued both ways (as fds-zoo) */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp)) die("socketpair");
	xwrite(sp[0], "hello from sp0", 14); xwrite(sp[0], "|second write", 13); xwrite(sp[1], "reply from sp1", 14);
	note("sp0", sp[0]); note("sp1", sp[1]);

	/* unix dgram socketpair: two datagrams queued on dp[1], one on dp[0] */
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dp)) die("socketpair dgram");
	xwrite(dp[0], "first datagram", 14); xwrite(dp[0], "2nd", 3); xwrite(dp[1], "back", 4);
	note("dp0", dp[0]); note("dp1", dp[1]);

	/* abstract dgram, unique per run */
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	snprintf(name, sizeof(name), "crtool-sk-test-%d", getpid());
	l = unix_addr(&sun, name, 1);
	if (bind(s, (struct sockaddr *)&sun, l)) die("bind abstract");
	note("dgram_abstract", s);

	/* path-bound dgram (absolute), relative name, and one whose file is unlinked */
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (!getcwd(tmp, sizeof(tmp) - 16)) die("getcwd");
	strcat(tmp, "/dgram.sock");
	l = unix_addr(&sun, tmp, 0);
	if (bind(s, (struct sockaddr *)&sun, l)) die("bind path");
	note("dgram_path", s);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	l = unix_addr(&sun, "rel.sock", 0);
	if (bind(s, (struct sockaddr *)&sun, l)) die("bind relative");
	note("dgram_relative", s);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	l = unix_addr(&sun, "gone.sock", 0);
	if (bind(s, (struct sockaddr *)&sun, l) || unlink("gone.sock")) die("bind unlinked");
	note("dgram_unlinked", s);

	/* unix stream listener with one connection not accepted yet */
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(name, sizeof(name), "crtool-sk-listen-%d", getpid());
	l = unix_addr(&sun, name, 1);
	if (bind(s, (struct sockaddr *)&sun, l) || listen(s, 4)) die("unix listen");
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&sun, l)) die("unix connect");
	note("unix_listener", s); note("unix_inflight", c);

	/* SO_PASSCRED receiver with a queued message: control messages in the queue */
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, cp)) die("socketpair passcred");
	on(cp[1], SOL_SOCKET, SO_PASSCRED, 1);
	xwrite(cp[0], "with creds", 10);
	note("passcred", cp[1]);

	/* a datagram carrying an fd (SCM_RIGHTS) queued */
	{
		int rp[2];
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = "fd", .iov_len = 2 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, rp)) die("socketpair rights");
		ch->cmsg_level = SOL_SOCKET; ch->cmsg_type = SCM_RIGHTS; ch->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(ch), &sp[0], sizeof(int));
		if (sendmsg(rp[0], &mh, 0) != 2) die("sendmsg rights");
		note("scm_rights", rp[1]);
	}

	/* TCP listener on 127.0.0.1, backlog 5, SO_REUSEADDR (as fds-zoo, ephemeral port) */
	t = socket(AF_INET, SOCK_STREAM, 0);
	on(t, SOL_SOCKET, SO_REUSEADDR, 1);
	memset(&sin, 0, sizeof(sin)); sin.sin_family = AF_INET; sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(t, (struct sockaddr *)&sin, sizeof(sin)) || listen(t, 5)) die("tcp listen");
	note("tcp_listen", t); note("tcp_listen_port", port_of(t));

	/* UDP bound on 127.0.0.1 (as fds-zoo), and one connected to it with an owner */
	u = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(u, (struct sockaddr *)&sin, sizeof(sin))) die("udp bind");
	note("udp", u); note("udp_port", port_of(u));
	s = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_port = htons(port_of(u));
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin))) die("udp connect");
	if (fcntl(s, F_SETOWN, getpid()) || fcntl(s, F_SETSIG, SIGUSR2) || fcntl(s, F_SETFL, O_NONBLOCK)) die("udp fown");
	note("udp_connected", s); note("udp_connected_port", port_of(s));
	sin.sin_port = 0;

	/* sockets sock_diag does not list: unbound UDP, and a TCP socket in CLOSE with options set */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	note("udp_unbound", s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct linger lg = { 1, 7 };
		struct timeval tv = { 3, 500000 };
		struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, 0xffff), BPF_STMT(BPF_RET | BPF_K, 0) };
		struct sock_fprog prog = { 2, code };
		on(s, SOL_IP, IP_TOS, 0x10); /* before SO_PRIORITY: IP_TOS sets the priority too */
		on(s, SOL_SOCKET, SO_PRIORITY, 3);
		on(s, SOL_SOCKET, SO_MARK, 42);
		on(s, SOL_SOCKET, SO_KEEPALIVE, 1);
		on(s, SOL_SOCKET, SO_REUSEPORT, 1);
		on(s, SOL_SOCKET, SO_RCVLOWAT, 5);
		on(s, SOL_SOCKET, SO_SNDBUF, 65536);
		if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) die("SO_LINGER");
		if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) die("SO_SNDTIMEO");
		if (setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3)) die("SO_BINDTODEVICE");
		if (setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog))) die("SO_ATTACH_FILTER");
		on(s, SOL_TCP, TCP_NODELAY, 1);
		on(s, SOL_TCP, TCP_KEEPCNT, 4);
		on(s, SOL_TCP, TCP_KEEPIDLE, 100);
		on(s, SOL_TCP, TCP_KEEPINTVL, 10);
		on(s, SOL_IP, IP_TTL, 33);
		on(s, SOL_IP, IP_FREEBIND, 1);
		on(s, SOL_IP, IP_PKTINFO, 1);
	}
	note("tcp_options", s);

	/* IPv6 TCP listener on ::1, backlog 9, v6only */
	s = socket(AF_INET6, SOCK_STREAM, 0);
	on(s, SOL_IPV6, IPV6_V6ONLY, 1);
	memset(&sin6, 0, sizeof(sin6)); sin6.sin6_family = AF_INET6; sin6.sin6_addr = in6addr_loopback;
	if (bind(s, (struct sockaddr *)&sin6, sizeof(sin6)) || listen(s, 9)) die("tcp6 listen");
	note("tcp6_listen", s); note("tcp6_listen_port", port_of(s));

	/* an established TCP connection (accepted), and a listener with one not accepted */
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) || listen(s, 1)) die("tcp listen 2");
	c = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = htons(port_of(s));
	if (connect(c, (struct sockaddr *)&sin, sizeof(sin))) die("tcp connect");
	t = accept(s, NULL, NULL);
	if (t < 0) die("accept");
	note("tcp_client", c); note("tcp_client_port", port_of(c)); note("tcp_accepted", t); note("tcp_server_port", port_of(s));
	close(s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = 0;
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) || listen(s, 3)) die("tcp listen 3");
	c = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = htons(port_of(s));
	if (connect(c, (struct sockaddr *)&sin, sizeof(sin))) die("tcp connect 3");
	note("tcp_listen_pending", s);

	/* netlink: NETLINK_ROUTE bound to link and IPv4 address groups, and one never bound */
	{
		struct sockaddr_nl snl = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR };
		s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
		if (s < 0 || bind(s, (struct sockaddr *)&snl, sizeof(snl))) die("netlink bind");
		l = sizeof(snl);
		if (getsockname(s, (struct sockaddr *)&snl, &l)) die("netlink getsockname");
		note("netlink", s); note("netlink_portid", snl.nl_pid); note("netlink_groups", snl.nl_groups);
		s = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT);
		note("netlink_unbound", s);
	}

	/* what crtool refuses: a raw ICMP socket, a netlink socket with an unread reply */
	s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (s < 0) die("raw socket");
	note("raw_icmp", s);
	{
		struct { struct nlmsghdr h; struct rtgenmsg g; } req = {
			.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
			.g = { .rtgen_family = AF_UNSPEC },
		};
		s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
		if (s < 0 || send(s, &req, sizeof(req), 0) != (ssize_t)sizeof(req)) die("netlink request");
		note("netlink_pending", s);
	}

	/* AF_PACKET: ARP on lo (quiet there), TPACKET_V2, reserve, aux data, a membership, fanout */
	{
		struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_ifindex = (int)if_nametoindex("lo") };
		struct packet_mreq mr = { .mr_ifindex = sll.sll_ifindex, .mr_type = PACKET_MR_ALLMULTI };
		s = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ARP));
		if (s < 0) die("packet socket");
		on(s, SOL_PACKET, PACKET_VERSION, TPACKET_V2);
		on(s, SOL_PACKET, PACKET_RESERVE, 16);
		on(s, SOL_PACKET, PACKET_AUXDATA, 1);
		if (bind(s, (struct sockaddr *)&sll, sizeof(sll))) die("packet bind");
		if (setsockopt(s, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) die("packet membership");
		on(s, SOL_PACKET, PACKET_FANOUT, (getpid() & 0xffff) | (PACKET_FANOUT_HASH << 16));
		note("packet", s); note("packet_ifindex", sll.sll_ifindex); note("packet_fanout_id", getpid() & 0xffff);
	}

	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	{
		FILE *f = fopen(tmp, "w");
		if (!f || fwrite(info, 1, info_len, f) != info_len || fclose(f) || rename(tmp, argv[1])) die("ready file");
	}
	for (;;)
		pause();
}
`;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every key path of a crit entry ("usk.opts.so_sndbuf"...), sorted. */
function keyPaths(v: Json, prefix = ""): string[] {
  if (!v || typeof v !== "object" || Array.isArray(v)) return [];
  return Object.entries(v).flatMap(([k, x]) => [`${prefix}${k}`, ...keyPaths(x, `${prefix}${k}.`)]).sort();
}

/** A crit entry without what differs by run: file ids, inodes, peers (inodes), ports, namespace ids. */
function comparable(v: Json, drop: ReadonlySet<string>, depth = 0): Json {
  if (Array.isArray(v)) return v.map((x) => comparable(x, drop, depth + 1));
  if (v && typeof v === "object") {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) if (!drop.has(k) && !(k === "id" && depth <= 1)) out[k] = comparable(x, drop, depth + 1);
    return out;
  }
  return v;
}

function sysctl(name: string): number {
  return Number(readFileSync(`/proc/sys/${name}`, "utf8").trim().split(/\s+/)[0]);
}

/** The word CRIU stores an IPv4 address in (the address bytes in memory order). */
function ipv4Word(a: number, b: number, c: number, d: number): number {
  return (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
}

interface SsSocket {
  netid: string;
  state: string;
  recvQ: number;
  sendQ: number;
  local: string;
  peer: string;
  /** ss -x: the socket's and its peer's inode columns. */
  ino: number | undefined;
  peerIno: number | undefined;
  /** "ino:N" of ss -tu -e. */
  eIno: number | undefined;
}

/** `ss ARGS` lines of process `pid`, by fd (none when ss is missing). */
function ssByFd(args: string[], pid: number): Map<number, SsSocket> {
  const out = new Map<number, SsSocket>();
  if (!HAVE_SS) return out;
  const r = spawnSync("ss", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ss ${args.join(" ")} failed: ${r.stderr}`);
  const unix = args.some((a) => a.includes("x"));
  for (const line of r.stdout.split("\n").slice(1)) {
    const m = new RegExp(`pid=${pid},fd=(\\d+)\\)`).exec(line);
    if (!m) continue;
    const f = line.trim().split(/\s+/);
    const eIno = /\bino:(\d+)/.exec(line);
    out.set(Number(m[1]), unix
      ? { netid: f[0], state: f[1], recvQ: +f[2], sendQ: +f[3], local: f[4], ino: +f[5], peer: f[6], peerIno: +f[7], eIno: undefined }
      : { netid: f[0], state: f[1], recvQ: +f[2], sendQ: +f[3], local: f[4], peer: f[5], ino: undefined, peerIno: undefined, eIno: eIno ? +eIno[1] : undefined });
  }
  return out;
}

const SS_STATES: Readonly<Record<string, number>> = { ESTAB: 1, UNCONN: 7, LISTEN: 10 };

describe.skipIf(reason)("socket kinds on a live workload", () => {
  let work: ReturnType<typeof scratch>;
  let w: Workload;
  let cwd: string;
  const contexts: TestDumpContext[] = [];
  let fdsBefore = 0;

  beforeAll(async () => {
    fdsBefore = readdirSync("/proc/self/fd").length;
    work = scratch("sockets");
    writeFileSync(join(work.dir, "socket_workload.c"), WORKLOAD_C);
    const bin = compile(join(work.dir, "socket_workload.c"), work.dir, "socket_workload");
    cwd = join(work.dir, "data");
    mkdirSync(cwd);
    w = await Workload.start(bin, cwd, join(work.dir, "ready.txt"));
  });

  afterAll(async () => {
    await w?.stop();
    for (const c of contexts) c.close();
    work?.cleanup();
    // Every fd a test grabbed, and every diag or namespace fd the kinds opened, is closed again.
    expect(readdirSync("/proc/self/fd").length).toBe(fdsBefore);
  });

  /**
   * A fresh image directory and context, the tree's namespaces registered
   * first as the orchestrator does (so the network namespace gets CRIU's id 2).
   */
  function newContext(skipUnsupported = false): TestDumpContext {
    const ctx = new TestDumpContext(mkdtempSync(join(work.dir, "images-")));
    ctx.options.skipUnsupported = skipUnsupported;
    contexts.push(ctx);
    namespaceIdsOf(w.pid, namespaceIds(ctx));
    return ctx;
  }

  /** Dumps the workload's fds named by `keys` into a fresh image directory. */
  async function dump(keys: string[]): Promise<{ ctx: TestDumpContext; dir: string; e: (key: string) => ImageMessage; id: (key: string) => number }> {
    const ctx = newContext();
    const dumped = await dumpFds(ctx, w.pid, keys.map((k) => w.num(k)), SOCKET_KINDS);
    ctx.images.closeAll();
    return { ctx, dir: ctx.dir, e: (k) => dumped.get(w.num(k))!.entry, id: (k) => dumped.get(w.num(k))!.id };
  }

  /** Dumps one fd that must be refused: the error, and the directory nothing may have been written to. */
  async function refusal(key: string, skipUnsupported = false): Promise<{ err: unknown; dir: string }> {
    const ctx = newContext(skipUnsupported);
    const err = await dumpFds(ctx, w.pid, [w.num(key)], SOCKET_KINDS).then(() => undefined, (x: unknown) => x);
    ctx.images.closeAll();
    return { err, dir: ctx.dir };
  }

  /** Our duplicate of a workload fd (for checks after the dump), from a context closed with the others. */
  function grab(key: string): number {
    const ctx = new TestDumpContext(mkdtempSync(join(work.dir, "grab-")));
    contexts.push(ctx);
    return ctx.grabPidFd(w.pid, w.num(key));
  }

  function inoOf(key: string): number {
    return statSync(`/proc/${w.pid}/fd/${w.num(key)}`).ino;
  }

  function netId(ctx: TestDumpContext): number {
    return namespaceIds(ctx).lookup("net", BigInt(statSync(`/proc/${w.pid}/ns/net`).ino))!;
  }

  it("detects each socket as the kind CRIU would, and no other kind claims them", () => {
    const want: Record<string, string> = {
      sp0: "UNIXSK", dp1: "UNIXSK", dgram_abstract: "UNIXSK", dgram_path: "UNIXSK", unix_listener: "UNIXSK", passcred: "UNIXSK",
      tcp_listen: "INETSK", udp: "INETSK", udp_unbound: "INETSK", tcp6_listen: "INETSK", tcp_client: "INETSK",
      netlink: "NETLINKSK", netlink_unbound: "NETLINKSK", packet: "PACKETSK", raw_icmp: "INETSK", netlink_pending: "NETLINKSK",
    };
    const ctx = new TestDumpContext(mkdtempSync(join(work.dir, "detect-")));
    contexts.push(ctx);
    for (const [key, type] of Object.entries(want)) {
      const t = taskFd(ctx, w.pid, w.num(key));
      expect([...SOCKET_KINDS, ...FD_KINDS_UNDER_TEST].filter((k) => k.detect(t)).map((k) => k.type), key).toEqual([type]);
    }
  });

  it("a unix stream socketpair: CRIU's entries, and each receive queue in sk-queues.img", async () => {
    const { ctx, dir, e, id } = await dump(["sp0", "sp1"]);
    for (const [me, other] of [["sp0", "sp1"], ["sp1", "sp0"]]) {
      expect(e(me)).toMatchObject({
        id: id(me), ino: inoOf(me), type: 1, state: 1, flags: 2, uflags: 0, peer: inoOf(other),
        fown: { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 }, name: new Uint8Array(0), ns_id: netId(ctx),
      });
      expect(e(me).shutdown).toBeUndefined();
      expect(e(me).file_perms).toBeUndefined();
    }
    // backlog is the write memory of what each end sent and the other has not read: two writes, one write.
    expect(e("sp0").backlog).toBe(2 * (e("sp1").backlog as number));
    expect(e("sp1").backlog).toBeGreaterThan(0);
    // As CRIU 4.2: the two writes to sp1 become one 27-byte entry.
    const queues = (await entriesOf(dir, "sk-queues.img"));
    expect(queues).toEqual([{ id_for: id("sp0"), length: 14 }, { id_for: id("sp1"), length: 27 }]);
    const doc = await critJson(dir, "sk-queues.img");
    expect(doc.entries.map((x) => Buffer.from(String(x.extra), "base64").toString())).toEqual(["reply from sp1", "hello from sp0|second write"]);
  });

  it("peeking consumes nothing: the queues are whole and the peek offset is back to off", async () => {
    await dump(["sp0", "sp1", "dp0", "dp1"]);
    const count = (fd: number): number => {
      const b = Buffer.alloc(4);
      expect(ioctlRaw(fd, FIONREAD, b)).toBe(0);
      return b.readInt32LE(0);
    };
    expect(count(grab("sp0"))).toBe(14);
    expect(count(grab("sp1"))).toBe(27);
    expect(getsockoptInt(grab("sp1"), SOL_SOCKET, SO_PEEK_OFF)).toBe(-1);
    const ctx = new TestDumpContext(mkdtempSync(join(work.dir, "peek-")));
    contexts.push(ctx);
    const again = peekQueue(taskFd(ctx, w.pid, w.num("dp1")), grab("dp1"), "UNIXSK");
    expect(again.map((p) => Buffer.from(p).toString())).toEqual(["first datagram", "2nd"]);
    expect(getsockoptInt(grab("dp1"), SOL_SOCKET, SO_PEEK_OFF)).toBe(-1);
  });

  it("a unix dgram socketpair: one sk-queues entry per datagram", async () => {
    const { dir, e, id } = await dump(["dp0", "dp1"]);
    expect(e("dp0")).toMatchObject({ type: 2, state: 1, peer: inoOf("dp1") });
    expect(e("dp1")).toMatchObject({ type: 2, state: 1, peer: inoOf("dp0") });
    const doc = await critJson(dir, "sk-queues.img");
    expect(doc.entries.map((x) => [x.id_for, x.length, Buffer.from(String(x.extra), "base64").toString()])).toEqual([
      [id("dp0"), 4, "back"], [id("dp1"), 14, "first datagram"], [id("dp1"), 3, "2nd"],
    ]);
  });

  it("bound names: abstract, absolute path, relative path, unlinked", async () => {
    const { e } = await dump(["dgram_abstract", "dgram_path", "dgram_relative", "dgram_unlinked"]);
    // The kernel's sun_path: a leading NUL and no trailing one for abstract names, the trailing NUL for paths.
    expect(Buffer.from(e("dgram_abstract").name as Uint8Array).toString("latin1")).toBe(`\0crtool-sk-test-${w.pid}`);
    expect(e("dgram_abstract").file_perms).toBeUndefined();
    const path = join(cwd, "dgram.sock");
    expect(Buffer.from(e("dgram_path").name as Uint8Array).toString()).toBe(`${path}\0`);
    const st = statSync(path);
    expect(e("dgram_path").file_perms).toEqual({ mode: st.mode, uid: st.uid, gid: st.gid });
    expect(e("dgram_path").name_dir).toBeUndefined();
    expect(e("dgram_path").deleted).toBeUndefined();
    expect(Buffer.from(e("dgram_relative").name as Uint8Array).toString()).toBe("rel.sock\0");
    expect(e("dgram_relative").name_dir).toBe(cwd);
    expect(e("dgram_relative").file_perms).toEqual({ mode: statSync(join(cwd, "rel.sock")).mode, uid: 0, gid: 0 });
    expect(e("dgram_unlinked")).toMatchObject({ name_dir: cwd, deleted: true });
    expect(existsSync(join(cwd, "gone.sock"))).toBe(false);
    for (const k of ["dgram_abstract", "dgram_path", "dgram_relative", "dgram_unlinked"]) {
      expect(e(k)).toMatchObject({ type: 2, state: 7, peer: 0, backlog: 0 });
      expect(e(k).mnt_id).toBeUndefined();
    }
  });

  it("a unix listener and a connection not accepted yet: its peer is the listener, as CRIU fixes it up", async () => {
    const { dir, e } = await dump(["unix_listener", "unix_inflight"]);
    expect(e("unix_listener")).toMatchObject({ type: 1, state: 10, backlog: 4, peer: 0 });
    expect(Buffer.from(e("unix_listener").name as Uint8Array).toString("latin1")).toBe(`\0crtool-sk-listen-${w.pid}`);
    expect(e("unix_inflight")).toMatchObject({ type: 1, state: 1, peer: inoOf("unix_listener"), backlog: 0 });
    // A listener's receive queue holds the connection, not data.
    expect(existsSync(join(dir, "sk-queues.img"))).toBe(false);
  });

  it("a queued message carrying an fd is refused; the fd peeking installed in crtool is closed", async () => {
    const before = readdirSync("/proc/self/fd").length;
    const { err, dir } = await refusal("scm_rights");
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as Error).message).toContain(`pid ${w.pid} fd ${w.num("scm_rights")} (UNIXSK): a queued message carries file descriptors (SCM_RIGHTS)`);
    expect(readdirSync(dir)).toEqual([]);
    // The only fd left over is the duplicate the context grabbed (closed with the contexts).
    expect(readdirSync("/proc/self/fd").length).toBe(before + 1);
    const b = Buffer.alloc(4);
    expect(ioctlRaw(grab("scm_rights"), FIONREAD, b)).toBe(0);
    expect(b.readInt32LE(0)).toBe(2);
  });

  it("queued messages with credentials (SO_PASSCRED) are refused, and stay queued", async () => {
    const { err, dir } = await refusal("passcred");
    expect(err).toBeInstanceOf(NotSupportedError);
    expect(String((err as Error).message)).toMatch(new RegExp(`pid ${w.pid} fd ${w.num("passcred")} \\(UNIXSK\\): queued messages carry control messages`));
    const b = Buffer.alloc(4);
    expect(ioctlRaw(grab("passcred"), FIONREAD, b)).toBe(0);
    expect(b.readInt32LE(0)).toBe(10);
    expect(getsockoptInt(grab("passcred"), SOL_SOCKET, SO_PEEK_OFF)).toBe(-1);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("TCP listener and UDP sockets over IPv4: inet_sk_entry as CRIU writes it", async () => {
    const { ctx, e, id } = await dump(["tcp_listen", "udp", "udp_connected", "udp_unbound"]);
    const lo = ipv4Word(127, 0, 0, 1);
    const ttl = sysctl("net/ipv4/ip_default_ttl");
    const keep = { keepcnt: sysctl("net/ipv4/tcp_keepalive_probes"), keepidle: sysctl("net/ipv4/tcp_keepalive_time"), keepintvl: sysctl("net/ipv4/tcp_keepalive_intvl") };
    expect(e("tcp_listen")).toMatchObject({
      id: id("tcp_listen"), ino: inoOf("tcp_listen"), family: 2, type: 1, proto: 6, state: 10, src_port: w.num("tcp_listen_port"), dst_port: 0,
      flags: 2, backlog: 5, src_addr: [lo], dst_addr: [0], ip_opts: { ttl }, ns_id: netId(ctx), tcp_opts: keep,
    });
    expect(e("tcp_listen").opts).toMatchObject({ reuseaddr: true, so_keepalive: false, so_reuseport: false });
    expect(e("tcp_listen").shutdown).toBeUndefined();
    expect(e("tcp_listen").v6only).toBeUndefined();
    expect(e("udp")).toMatchObject({ family: 2, type: 2, proto: 17, state: 7, src_port: w.num("udp_port"), dst_port: 0, backlog: 0, src_addr: [lo], dst_addr: [0], ip_opts: { ttl }, ns_id: netId(ctx), tcp_opts: {} });
    expect(e("udp_connected")).toMatchObject({
      state: 1, src_port: w.num("udp_connected_port"), dst_port: w.num("udp_port"), src_addr: [lo], dst_addr: [lo], flags: 2 | O_NONBLOCK,
      fown: { uid: 0, euid: 0, signum: 12, pid_type: 1, pid: w.pid },
    });
    // inet_diag does not list an unbound UDP socket: described from itself, and without ns_id (crtool's own namespace).
    expect(e("udp_unbound")).toMatchObject({ state: 7, src_port: 0, dst_port: 0, src_addr: [0], dst_addr: [0], backlog: 0, tcp_opts: {} });
    expect(e("udp_unbound").ns_id).toBeUndefined();
  });

  it("socket, IP and TCP options set by the task are read back", async () => {
    const { e } = await dump(["tcp_options"]);
    expect(e("tcp_options")).toMatchObject({ family: 2, type: 1, proto: 6, state: 7, src_port: 0, backlog: 0 });
    expect(e("tcp_options").opts).toEqual({
      so_sndbuf: 131072, so_rcvbuf: (e("tcp_options").opts as ImageMessage).so_rcvbuf,
      so_snd_tmo_sec: 3n, so_snd_tmo_usec: 500000n, so_rcv_tmo_sec: 0n, so_rcv_tmo_usec: 0n,
      reuseaddr: false, so_priority: 3, so_rcvlowat: 5, so_mark: 42, so_dontroute: false, so_no_check: false, so_bound_dev: "lo",
      // BPF_RET|BPF_K 0xffff, BPF_RET|BPF_K 0: code (0x06) in the top 16 bits, k in the low 32.
      so_filter: [(0x06n << 48n) | 0xffffn, 0x06n << 48n],
      so_reuseport: true, so_broadcast: false, so_keepalive: true, so_oobinline: 0, so_linger: 7,
      // Setting SO_SNDBUF locks the send buffer size (SOCK_SNDBUF_LOCK).
      so_buf_lock: 1,
    });
    expect(e("tcp_options").ip_opts).toEqual({ freebind: true, pktinfo: true, tos: 0x10, ttl: 33 });
    expect(e("tcp_options").tcp_opts).toEqual({ nodelay: true, keepcnt: 4, keepidle: 100, keepintvl: 10 });
  });

  it("an IPv6 TCP listener on ::1: four address words, v6only, no IPv4 options", async () => {
    const { ctx, e } = await dump(["tcp6_listen"]);
    expect(e("tcp6_listen")).toMatchObject({
      family: 10, type: 1, proto: 6, state: 10, src_port: w.num("tcp6_listen_port"), backlog: 9,
      src_addr: [0, 0, 0, ipv4Word(0, 0, 0, 1)], dst_addr: [0, 0, 0, 0], v6only: true, ip_opts: {}, ns_id: netId(ctx),
    });
    expect(e("tcp6_listen").ifname).toBeUndefined();
  });

  it("connected TCP sockets and listeners with connections to accept are refused, naming the connection", async () => {
    const lo = "127.0.0.1";
    for (const [key, what] of [
      ["tcp_client", `TCP connection ${lo}:${w.num("tcp_client_port")} -> ${lo}:${w.num("tcp_server_port")} (ESTABLISHED) needs TCP repair mode`],
      ["tcp_accepted", `TCP connection ${lo}:${w.num("tcp_server_port")} -> ${lo}:${w.num("tcp_client_port")} (ESTABLISHED) needs TCP repair mode`],
      ["tcp_listen_pending", "has 1 connection(s) waiting to be accepted"],
    ] as const) {
      for (const skipUnsupported of [false, true]) {
        const { err, dir } = await refusal(key, skipUnsupported);
        expect(readdirSync(dir), key).toEqual([]);
        expect(err, key).toBeInstanceOf(NotSupportedError);
        expect((err as Error).message, key).toContain(`pid ${w.pid} fd ${w.num(key)} (INETSK): `);
        expect((err as Error).message, key).toContain(what);
      }
    }
  });

  it("raw sockets and netlink sockets with unread messages are refused", async () => {
    for (const [key, kind, what] of [
      ["raw_icmp", "INETSK", "RAW sockets are not supported"],
      ["netlink_pending", "NETLINKSK", "has messages waiting to be read"],
    ] as const) {
      const { err, dir } = await refusal(key);
      expect(err, key).toBeInstanceOf(NotSupportedError);
      expect((err as Error).message, key).toContain(`pid ${w.pid} fd ${w.num(key)} (${kind}): `);
      expect((err as Error).message, key).toContain(what);
      expect(readdirSync(dir), key).toEqual([]);
    }
  });

  it("netlink sockets: NETLINK_ROUTE bound with groups, and one never bound", async () => {
    const { ctx, e } = await dump(["netlink", "netlink_unbound"]);
    // state is the kernel's sk_state (7, CLOSE, until connect()), as netlink_diag reports it to CRIU.
    expect(e("netlink")).toMatchObject({
      ino: inoOf("netlink"), protocol: 0, state: 7, flags: 2, portid: w.num("netlink_portid"), groups: [w.num("netlink_groups")],
      dst_portid: 0, dst_group: 0, ns_id: netId(ctx),
    });
    expect(e("netlink").opts).toMatchObject({ so_passcred: false, so_passsec: false });
    // netlink_diag does not list unbound sockets: protocol from SO_PROTOCOL (NETLINK_KOBJECT_UEVENT), zeros, no ns_id.
    expect(e("netlink_unbound")).toMatchObject({ protocol: 15, state: 0, portid: 0, dst_portid: 0, dst_group: 0 });
    expect(e("netlink_unbound").groups).toBeUndefined();
    expect(e("netlink_unbound").ns_id).toBeUndefined();
  });

  it("an AF_PACKET socket: what packet_diag says, protocol in network order", async () => {
    const { ctx, e, id } = await dump(["packet"]);
    expect(e("packet")).toMatchObject({
      id: id("packet"), type: 2, protocol: 0x0608 /* htons(ETH_P_ARP) */, flags: 2, ifindex: w.num("packet_ifindex"),
      version: 1 /* TPACKET_V2 */, reserve: 16, aux_data: true, orig_dev: false, vnet_hdr: false, loss: false, timestamp: 0, copy_thresh: 0,
      mclist: [{ index: w.num("packet_ifindex"), type: 2 /* PACKET_MR_ALLMULTI */, addr: new Uint8Array(0) }],
      fanout: w.num("packet_fanout_id") /* PACKET_FANOUT_HASH is 0 */, ns_id: netId(ctx),
    });
    expect(e("packet").rx_ring).toBeUndefined();
    expect(e("packet").opts).not.toHaveProperty("so_passcred");
  });

  it("ss agrees on states, queues, names, ports and inodes", async (t) => {
    if (!HAVE_SS) {
      warnOnce("skipping ss cross-checks: ss (iproute2) is not installed");
      t.skip();
    }
    const unixKeys = ["sp0", "sp1", "dp0", "dp1", "dgram_abstract", "dgram_path", "unix_listener", "unix_inflight"];
    const inetKeys = ["tcp_listen", "udp", "udp_connected", "tcp6_listen"];
    const { e } = await dump([...unixKeys, ...inetKeys]);
    const ssx = ssByFd(["-xaenp"], w.pid);
    for (const k of unixKeys) {
      const s = ssx.get(w.num(k))!;
      expect(s, k).toBeDefined();
      expect(SS_STATES[s.state], k).toBe(e(k).state);
      expect(s.ino, k).toBe(e(k).ino);
      expect(s.sendQ, k).toBe(e(k).backlog);
      // ss shows no peer for a connection still in the accept queue; CRIU's entry names the listener.
      if (k !== "unix_inflight") expect(s.peerIno, k).toBe(e(k).peer);
      const name = Buffer.from(e(k).name as Uint8Array).toString("latin1").replace(/\0$/, "").replace(/^\0/, "@");
      expect(s.local, k).toBe(name === "" ? "*" : name);
    }
    const sstu = ssByFd(["-tuaenp"], w.pid);
    for (const k of inetKeys) {
      const s = sstu.get(w.num(k))!;
      expect(s, k).toBeDefined();
      expect(s.eIno, k).toBe(e(k).ino);
      expect(SS_STATES[s.state], k).toBe(e(k).state);
      expect(s.local, k).toBe(e(k).family === 10 ? `[::1]:${e(k).src_port}` : `127.0.0.1:${e(k).src_port}`);
      if (e(k).state === 10) expect(s.sendQ, k).toBe(e(k).backlog);
      if (k === "udp_connected") expect(s.peer).toBe(`127.0.0.1:${e(k).dst_port}`);
    }
  });

  it("the same fields as CRIU 4.2's entries for the same kinds in the fds-zoo fixture, with the same values", async (t) => {
    if (!HAVE_ZOO) {
      warnOnce(`skipping fds-zoo comparisons: the fixture is not at ${ZOO}`);
      t.skip();
    }
    const golden = JSON.parse(readFileSync(join(ZOO, "golden", "files.img.pretty.json"), "utf8")) as CritDocument;
    const goldenOf = (id: number): Json => golden.entries.find((x) => x.id === id) as Json;
    const { dir, id } = await dump(["sp0", "sp1", "dgram_abstract", "tcp_listen", "udp"]);
    const ours = await critJson(dir, "files.img");
    const ourOf = (key: string): Json => ours.entries.find((x) => x.id === id(key)) as Json;
    // fds-zoo: fd 11/12 the socketpair (ids 15/16), 13 the abstract dgram (17), 14 TCP (18), 15 UDP (19).
    const pairs: [string, number][] = [["sp0", 15], ["sp1", 16], ["dgram_abstract", 17], ["tcp_listen", 18], ["udp", 19]];
    const runSpecific = new Set(["ino", "peer", "src_port", "name"]);
    for (const [key, gid] of pairs) {
      expect(keyPaths(ourOf(key)), key).toEqual(keyPaths(goldenOf(gid)));
      expect(comparable(ourOf(key), runSpecific), key).toEqual(comparable(goldenOf(gid), runSpecific));
    }
  });

  it("Debian's crit decodes files.img and sk-queues.img", async () => {
    const { dir, id } = await dump(["sp0", "sp1", "dp1", "dgram_path", "tcp_listen", "udp", "tcp6_listen", "tcp_options", "netlink", "packet"]);
    const files = debianCrit(dir, "files.img");
    if (!files) return;
    expect(files.entries.map((x) => x.type)).toEqual(["UNIXSK", "UNIXSK", "UNIXSK", "UNIXSK", "INETSK", "INETSK", "INETSK", "INETSK", "NETLINKSK", "PACKETSK"]);
    const isk = files.entries.find((x) => x.id === id("tcp6_listen"))!.isk as Record<string, Json>;
    // crit decode (not --pretty) shows the raw words.
    expect(isk.src_addr).toEqual([0, 0, 0, ipv4Word(0, 0, 0, 1)]);
    const queues = debianCrit(dir, "sk-queues.img")!;
    expect(queues.entries.map((x) => [x.id_for, Buffer.from(String(x.extra), "base64").toString()])).toEqual([
      [id("sp0"), "reply from sp1"], [id("sp1"), "hello from sp0|second write"], [id("dp1"), "first datagram"], [id("dp1"), "2nd"],
    ]);
  });
});
