/**
 * INETSK: a TCP, UDP or UDP-Lite socket over IPv4 or IPv6, as CRIU 4.2's
 * sk-inet.c do_dump_one_inet_fd writes it.
 *
 * - State, addresses, ports, queue lengths and shutdown come from inet_diag
 *   (in the socket's network namespace). Sockets inet_diag does not list —
 *   a TCP socket in CLOSE, an unbound UDP socket — are described like
 *   CRIU's gen_uncon_sk: getsockname/getpeername, state CLOSE, and for TCP
 *   the backlog from TCP_INFO's backoff and the shutdown from poll().
 * - backlog is the diag's wqlen: a listener's backlog, or the send memory in
 *   use of a UDP socket.
 * - src_addr/dst_addr are the u32 words CRIU copies the address into: one
 *   for IPv4, four for IPv6.
 * - ip_opts and tcp_opts hold only the options that are not zero (CRIU sets
 *   has_* from the value); an IPv6 socket has no tos/ttl there. A UDP
 *   socket carries an empty tcp_opts, as CRIU always attaches one.
 * - A queued UDP datagram is dropped, as CRIU drops it (logged).
 *
 * What CRIU cannot dump without options crtool does not implement is
 * refused: connected TCP sockets (TCP repair mode, --tcp-established),
 * listeners with connections waiting to be accepted (--tcp-skip-in-flight),
 * corked UDP sockets; and raw, ICMP and MPTCP sockets.
 */
import type { DumpContext } from "../contract/dump-context.js";
import type { InetSkEntry, IpOptsEntry, TcpOptsEntry } from "../images/schema/types.js";
import { formatIPv4, formatIPv6 } from "../images/text/ipaddr.js";
import { isErrno } from "../kernel/index.js";
import type { FdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown } from "./fown.js";
import { toMessage } from "./message.js";
import { fileFlags } from "../kernel/index.js";
import { perDump } from "./per-dump.js";
import { socketProto } from "./socket-family.js";
import { netnsId, taskHasOwnNetns } from "./socket-netns.js";
import { dumpSocketOpts } from "./socket-opts.js";
import {
  AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPV6_FREEBIND, IPV6_RECVPKTINFO, IPV6_V6ONLY, IP_FREEBIND, IP_PKTINFO,
  IP_TOS, IP_TTL, POLLHUP, POLLRDHUP, SOCK_DGRAM, SOCK_STREAM, SOL_IP, SOL_IPV6, SOL_SOCKET, SOL_TCP, SOL_UDP, SO_BINDTODEVICE,
  SO_DOMAIN, SO_PROTOCOL, SO_TYPE, TCP_CLOSE, TCP_CORK, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_LISTEN, TCP_NODELAY, UDP_CORK,
} from "./sock-diag/constants.js";
import { addressWords, inetDiagDump, type InetDiag } from "./sock-diag/inet-diag.js";
import { socketNetnsIno, withDiagSocketFor } from "./sock-diag/netns.js";
import { getsockopt, getsockoptInt, pollNow, sockName } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

const KIND = "INETSK";
const TCP_INFO = 11;
/** sk_shutdown: the receive side is shut. */
const SHUTDOWN_READ = 1;

const TCP_STATE_NAMES: Readonly<Record<number, string>> = {
  1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT",
  9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
};

/** What the entry needs about the socket, from inet_diag or (for unlisted sockets) from the socket itself. */
interface InetState {
  state: number;
  srcPort: number;
  dstPort: number;
  srcAddr: number[];
  dstAddr: number[];
  rqlen: number;
  wqlen: number;
  shutdown: number;
  /** The namespace's inode when the ns_id is to be written. */
  netnsIno: bigint | undefined;
}

/**
 * The protocols this kind claims: TCP, UDP and UDP-Lite, which it dumps, and
 * raw, ping and MPTCP sockets, which it refuses with a reason instead of
 * leaving them to be reported as an unknown kind.
 */
const CLAIMED_PROTOS = new Set(["TCP", "UDP", "UDP-Lite", "TCPv6", "UDPv6", "UDPLITEv6", "RAW", "RAWv6", "PING", "PINGv6", "MPTCP", "MPTCPv6"]);

function endpoint(family: number, addr: number[], port: number): string {
  return family === AF_INET6 ? `[${formatIPv6(addr)}]:${port}` : `${formatIPv4(addr[0])}:${port}`;
}

/**
 * inet_diag's view of the socket. One dump per namespace, family and
 * protocol serves every socket of a crtool dump (the tasks are frozen); a
 * socket missing from it is asked for once more, in case it is newer.
 */
function diagLookup(ctx: DumpContext, lfd: number, family: number, proto: number, ino: number): { diag: InetDiag | undefined; netnsIno: bigint } {
  return withDiagSocketFor(lfd, (diag, netnsIno) => {
    const cache = perDump(ctx, `inet-diag:${netnsIno}:${family}:${proto}`, (): { table?: Map<number, InetDiag> } => ({}));
    if (!cache.table?.has(ino)) cache.table = inetDiagDump(diag, family, proto);
    return { diag: cache.table.get(ino), netnsIno };
  });
}

/** A sockaddr_in/sockaddr_in6 as CRIU's dump_sockaddr reads it: the port, and the address as four u32 words. */
function sockaddr(b: Buffer | undefined, family: number): { port: number; addr: number[] } {
  if (!b || b.length < 2 || b.readUInt16LE(0) !== family) return { port: 0, addr: [0, 0, 0, 0] };
  const addr = family === AF_INET6 ? addressWords(b, 8, 4) : [...addressWords(b, 4, 1), 0, 0, 0];
  return { port: b.readUInt16BE(2), addr };
}

/** CRIU's gen_uncon_sk: a socket inet_diag does not list, described from itself. */
function unlisted(fd: TaskFd, lfd: number, ctx: DumpContext, family: number, proto: number): InetState {
  const peer = sockaddr(sockName(lfd, true), family);
  const local = sockaddr(sockName(lfd, false), family);
  let wqlen = 0;
  let shutdown = 0;
  if (proto === IPPROTO_TCP) {
    // struct tcp_info starts {u8 state, ca_state, retransmits, probes, backoff, options...}
    const info = getsockopt(lfd, SOL_TCP, TCP_INFO, 8);
    if (info[0] !== TCP_CLOSE) throw unsupported(fd, KIND, `TCP socket in state ${TCP_STATE_NAMES[info[0]] ?? info[0]} that inet_diag does not list`);
    // CRIU keeps TCP_INFO's backoff here, the backlog field of a socket that never listened.
    wqlen = info[4];
    // No diag for unconnected sockets: a shut receive side shows as POLLHUP|POLLRDHUP.
    const revents = pollNow(lfd, POLLRDHUP | POLLHUP);
    if (revents & POLLHUP && revents & POLLRDHUP) shutdown |= SHUTDOWN_READ;
  }
  return {
    state: TCP_CLOSE,
    srcPort: local.port,
    dstPort: peer.port,
    srcAddr: local.addr,
    dstAddr: peer.addr,
    rqlen: 0,
    wqlen,
    shutdown,
    netnsIno: taskHasOwnNetns(ctx, fd.pid) ? socketNetnsIno(lfd) : undefined,
  };
}

/** IPv6 addresses that need an interface to bind to (link-local), as CRIU's needs_scope_id decides. */
function needsScopeId(addr: number[]): boolean {
  // CRIU's multicast test masks with 0xFF00000 (one digit short) and never matches; only fe80::/10 does.
  const b0 = addr[0] & 0xff;
  const b1 = (addr[0] >>> 8) & 0xff;
  return b0 === 0xfe && (b1 & 0xc0) === 0x80;
}

function ipOpts(lfd: number, family: number): IpOptsEntry {
  const int = (level: number, name: number): number => getsockoptInt(lfd, level, name);
  const o: IpOptsEntry = {};
  let freebind: number;
  let pktinfo: number;
  let tos = 0;
  let ttl = 0;
  if (family === AF_INET6) {
    // IPV6_FREEBIND exists since Linux 4.15; before, CRIU reads the IPv4 option, which IPv6 sockets share.
    try {
      freebind = int(SOL_IPV6, IPV6_FREEBIND);
    } catch (e) {
      if (!isErrno(e, "ENOPROTOOPT")) throw e;
      freebind = int(SOL_IP, IP_FREEBIND);
    }
    pktinfo = int(SOL_IPV6, IPV6_RECVPKTINFO);
  } else {
    freebind = int(SOL_IP, IP_FREEBIND);
    pktinfo = int(SOL_IP, IP_PKTINFO);
    tos = int(SOL_IP, IP_TOS);
    ttl = int(SOL_IP, IP_TTL);
  }
  if (freebind) o.freebind = true;
  if (pktinfo) o.pktinfo = true;
  if (tos) o.tos = tos >>> 0;
  if (ttl) o.ttl = ttl >>> 0;
  return o;
}

function tcpOpts(lfd: number): TcpOptsEntry {
  const int = (name: number): number => getsockoptInt(lfd, SOL_TCP, name);
  const o: TcpOptsEntry = {};
  if (int(TCP_CORK)) o.cork = true;
  if (int(TCP_NODELAY)) o.nodelay = true;
  const keepcnt = int(TCP_KEEPCNT);
  const keepidle = int(TCP_KEEPIDLE);
  const keepintvl = int(TCP_KEEPINTVL);
  if (keepcnt) o.keepcnt = keepcnt >>> 0;
  if (keepidle) o.keepidle = keepidle >>> 0;
  if (keepintvl) o.keepintvl = keepintvl >>> 0;
  return o;
}

export const inetSocketKind: FdKind = {
  type: KIND,
  field: "isk",
  detect(fd: TaskFd): boolean {
    const p = socketProto(fd);
    return p !== undefined && (p.family === AF_INET || p.family === AF_INET6) && CLAIMED_PROTOS.has(p.name);
  },
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const lfd = ctx.grab(fd);
    const flags = fileFlags(fd.fdinfo.flags);
    const ino = Number(fd.stat.ino);
    const family = getsockoptInt(lfd, SOL_SOCKET, SO_DOMAIN);
    const proto = getsockoptInt(lfd, SOL_SOCKET, SO_PROTOCOL);
    const type = getsockoptInt(lfd, SOL_SOCKET, SO_TYPE);
    const stream = type === SOCK_STREAM && proto === IPPROTO_TCP;
    const dgram = type === SOCK_DGRAM && (proto === IPPROTO_UDP || proto === IPPROTO_UDPLITE);
    if (!stream && !dgram) {
      const what = socketProto(fd)?.name ?? `type ${type} protocol ${proto}`;
      throw unsupported(fd, KIND, `${what} sockets are not supported (only TCP, UDP and UDP-Lite)`);
    }

    const found = diagLookup(ctx, lfd, family, proto, ino);
    const sk: InetState = found.diag
      ? { ...found.diag, netnsIno: found.netnsIno }
      : unlisted(fd, lfd, ctx, family, proto);

    if (dgram && getsockoptInt(lfd, SOL_UDP, UDP_CORK) !== 0) throw unsupported(fd, KIND, "corked UDP sockets cannot be dumped");
    const here = endpoint(family, sk.srcAddr, sk.srcPort);
    if (stream) {
      if (sk.state === TCP_LISTEN && sk.rqlen !== 0) {
        throw unsupported(fd, KIND, `TCP listener ${here} has ${sk.rqlen} connection(s) waiting to be accepted (CRIU's --tcp-skip-in-flight is not implemented)`);
      }
      if (sk.state !== TCP_LISTEN && sk.state !== TCP_CLOSE) {
        const there = endpoint(family, sk.dstAddr, sk.dstPort);
        throw unsupported(fd, KIND, `TCP connection ${here} -> ${there} (${TCP_STATE_NAMES[sk.state] ?? sk.state}) needs TCP repair mode, which crtool does not implement`);
      }
    } else if (sk.rqlen !== 0) {
      ctx.log(`pid ${fd.pid} fd ${fd.fd} (${KIND}): the ${sk.rqlen} bytes queued on UDP socket ${here} are dropped, as CRIU drops them`);
    }

    const words = family === AF_INET6 ? 4 : 1;
    const entry: InetSkEntry = {
      id,
      ino,
      family,
      type,
      proto,
      state: sk.state,
      src_port: sk.srcPort,
      dst_port: sk.dstPort,
      flags,
      backlog: sk.wqlen,
      src_addr: sk.srcAddr.slice(0, words),
      dst_addr: sk.dstAddr.slice(0, words),
      fown: readFown(lfd, flags),
      opts: dumpSocketOpts(lfd, family),
    };
    if (family === AF_INET6) {
      entry.v6only = getsockoptInt(lfd, SOL_IPV6, IPV6_V6ONLY) !== 0;
      if (sk.srcPort && needsScopeId(sk.srcAddr)) {
        const dev = getsockopt(lfd, SOL_SOCKET, SO_BINDTODEVICE, 16);
        if (dev.length === 0) throw unsupported(fd, KIND, `${here} is link-local but bound to no interface; its scope cannot be restored`);
        const nul = dev.indexOf(0);
        entry.ifname = dev.subarray(0, nul < 0 ? dev.length : nul).toString("utf8");
      }
    }
    entry.ip_opts = ipOpts(lfd, family);
    if (sk.netnsIno !== undefined) entry.ns_id = netnsId(ctx, sk.netnsIno);
    if (sk.shutdown !== 0) entry.shutdown = sk.shutdown;
    entry.tcp_opts = stream ? tcpOpts(lfd) : {};
    return toMessage(entry);
  },
};
