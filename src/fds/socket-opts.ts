/**
 * sk_opts_entry, the socket-level options every socket kind saves, read with
 * getsockopt on crtool's duplicate exactly as CRIU 4.2's dump_socket_opts
 * (sockets.c) reads them: which fields it always writes, which only when
 * set (so_mark, so_linger, so_bound_dev, so_filter), and which only for
 * AF_UNIX and AF_NETLINK (so_passcred, so_passsec).
 */
import type { SkOptsEntry } from "../images/schema/types.js";
import { isErrno, stableBuffer } from "../kernel/index.js";
import {
  AF_NETLINK, AF_UNIX, SOL_SOCKET, SO_BINDTODEVICE, SO_BROADCAST, SO_BUF_LOCK, SO_DONTROUTE, SO_GET_FILTER, SO_KEEPALIVE, SO_LINGER,
  SO_MARK, SO_NO_CHECK, SO_OOBINLINE, SO_PASSCRED, SO_PASSSEC, SO_PRIORITY, SO_RCVBUF, SO_RCVLOWAT, SO_RCVTIMEO_OLD, SO_REUSEADDR,
  SO_REUSEPORT, SO_SNDBUF, SO_SNDTIMEO_OLD,
} from "./sock-diag/constants.js";
import { getsockopt, getsockoptInt, getsockoptInto } from "../kernel/index.js";

const IFNAMSIZ = 16;

/** A struct timeval option as {sec, usec}. */
function timeval(lfd: number, name: number): { sec: bigint; usec: bigint } {
  const b = getsockopt(lfd, SOL_SOCKET, name, 16);
  return { sec: b.readBigInt64LE(0), usec: b.readBigInt64LE(8) };
}

/**
 * The socket's classic BPF filter as CRIU encodes it (encode_filter): each
 * struct sock_filter {u16 code; u8 jt; u8 jf; u32 k} as one u64, code in
 * the top 16 bits, so the image does not depend on the byte order. The
 * kernel counts SO_GET_FILTER's optlen in instructions: asked with none, it
 * answers how many there are.
 */
function socketFilter(lfd: number): bigint[] {
  const count = getsockoptInto(lfd, SOL_SOCKET, SO_GET_FILTER, undefined, 0);
  if (count === 0) return [];
  const raw = stableBuffer(count * 8);
  const got = getsockoptInto(lfd, SOL_SOCKET, SO_GET_FILTER, raw, count);
  const out: bigint[] = [];
  for (let i = 0; i < got; i++) {
    const code = BigInt(raw.readUInt16LE(8 * i));
    const jt = BigInt(raw.readUInt8(8 * i + 2));
    const jf = BigInt(raw.readUInt8(8 * i + 3));
    const k = BigInt(raw.readUInt32LE(8 * i + 4));
    out.push((code << 48n) | (jt << 40n) | (jf << 32n) | k);
  }
  return out;
}

export function dumpSocketOpts(lfd: number, family: number): SkOptsEntry {
  const int = (name: number): number => getsockoptInt(lfd, SOL_SOCKET, name);
  const flag = (name: number): boolean => int(name) !== 0;
  const snd = timeval(lfd, SO_SNDTIMEO_OLD);
  const rcv = timeval(lfd, SO_RCVTIMEO_OLD);
  // Built in field-number order, as CRIU fills them (the encoder orders them anyway).
  const opts: SkOptsEntry = {
    so_sndbuf: int(SO_SNDBUF) >>> 0,
    so_rcvbuf: int(SO_RCVBUF) >>> 0,
    so_snd_tmo_sec: snd.sec,
    so_snd_tmo_usec: snd.usec,
    so_rcv_tmo_sec: rcv.sec,
    so_rcv_tmo_usec: rcv.usec,
    reuseaddr: flag(SO_REUSEADDR),
    so_priority: int(SO_PRIORITY) >>> 0,
    so_rcvlowat: int(SO_RCVLOWAT) >>> 0,
  };
  // CRIU writes the mark only when one is set (restoring it needs CAP_NET_ADMIN).
  const mark = int(SO_MARK) >>> 0;
  if (mark !== 0) opts.so_mark = mark;
  if (family === AF_UNIX || family === AF_NETLINK) {
    opts.so_passcred = flag(SO_PASSCRED);
    opts.so_passsec = flag(SO_PASSSEC);
  }
  opts.so_dontroute = flag(SO_DONTROUTE);
  opts.so_no_check = flag(SO_NO_CHECK);
  const dev = getsockopt(lfd, SOL_SOCKET, SO_BINDTODEVICE, IFNAMSIZ);
  if (dev.length > 0) opts.so_bound_dev = cString(dev);
  const filter = socketFilter(lfd);
  if (filter.length > 0) opts.so_filter = filter;
  opts.so_reuseport = flag(SO_REUSEPORT);
  opts.so_broadcast = flag(SO_BROADCAST);
  opts.so_keepalive = flag(SO_KEEPALIVE);
  opts.so_oobinline = flag(SO_OOBINLINE) ? 1 : 0;
  // struct linger {int l_onoff; int l_linger}: saved only when lingering is on.
  const linger = getsockopt(lfd, SOL_SOCKET, SO_LINGER, 8);
  if (linger.readInt32LE(0) !== 0) opts.so_linger = linger.readInt32LE(4) >>> 0;
  // SO_BUF_LOCK exists since Linux 5.14; CRIU writes it whenever the kernel has it.
  const bufLock = optionalInt(lfd, SO_BUF_LOCK);
  if (bufLock !== undefined) opts.so_buf_lock = bufLock >>> 0;
  return opts;
}

/** An int option the running kernel may not know (ENOPROTOOPT): undefined then. */
function optionalInt(lfd: number, name: number): number | undefined {
  try {
    return getsockoptInt(lfd, SOL_SOCKET, name);
  } catch (e) {
    if (isErrno(e, "ENOPROTOOPT")) return undefined;
    throw e;
  }
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString("utf8");
}
