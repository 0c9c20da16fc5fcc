/**
 * inet_diag (linux/inet_diag.h) for TCP and UDP over IPv4 and IPv6: state,
 * local and remote address and port, queue lengths and shutdown. Looking up
 * one socket by inode alone is not something inet_diag offers (an exact
 * request needs the 4-tuple), so this dumps a family/protocol with the
 * states CRIU collects and picks the inode out, as CRIU's collect_sockets
 * does.
 */
import {
  IPPROTO_TCP, TCP_CLOSE_WAIT, TCP_CLOSING, TCP_ESTABLISHED, TCP_FIN_WAIT1, TCP_FIN_WAIT2, TCP_LAST_ACK, TCP_LISTEN, TCP_SYN_SENT,
} from "./constants.js";
import { parseAttrs, type DiagSocket } from "./netlink.js";

const INET_DIAG_SHUTDOWN = 8;
/** sizeof(struct inet_diag_msg) */
const MSG_SIZE = 72;

/**
 * The TCP states CRIU collects: listening and connected sockets. A TCP
 * socket in CLOSE (never connected, maybe bound) is not looked up, and is
 * described from getsockname/getpeername instead, like CRIU's gen_uncon_sk.
 */
export const TCP_COLLECTED_STATES =
  (1 << TCP_LISTEN) | (1 << TCP_ESTABLISHED) | (1 << TCP_FIN_WAIT1) | (1 << TCP_FIN_WAIT2) | (1 << TCP_CLOSE_WAIT) |
  (1 << TCP_LAST_ACK) | (1 << TCP_CLOSING) | (1 << TCP_SYN_SENT);

export interface InetDiag {
  ino: number;
  family: number;
  state: number;
  srcPort: number;
  dstPort: number;
  /** idiag_src/idiag_dst: four 32-bit words as they lie in memory (network byte order inside each word). */
  srcAddr: number[];
  dstAddr: number[];
  /** Listener: pending connections; UDP: receive memory; TCP: unread bytes. */
  rqlen: number;
  /** Listener: its backlog; UDP: send memory in use; TCP: unacknowledged bytes. */
  wqlen: number;
  shutdown: number;
}

function request(family: number, protocol: number, states: number): Buffer {
  // struct inet_diag_req_v2 {family, protocol, ext, pad, states; struct inet_diag_sockid id}
  const r = Buffer.alloc(56);
  r.writeUInt8(family, 0);
  r.writeUInt8(protocol, 1);
  r.writeUInt32LE(states >>> 0, 4);
  return r;
}

/**
 * 16 address bytes as the u32 words CRIU memcpy()s them into: read in host
 * order, little-endian on both architectures crtool runs on.
 */
export function addressWords(b: Uint8Array, offset = 0, count = 4): number[] {
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(view.readUInt32LE(offset + 4 * i));
  return out;
}

export function parseInetDiag(payload: Buffer): InetDiag {
  const attrs = parseAttrs(payload, MSG_SIZE);
  const shutdown = attrs.get(INET_DIAG_SHUTDOWN);
  return {
    family: payload.readUInt8(0),
    state: payload.readUInt8(1),
    srcPort: payload.readUInt16BE(4),
    dstPort: payload.readUInt16BE(6),
    srcAddr: addressWords(payload, 8),
    dstAddr: addressWords(payload, 24),
    rqlen: payload.readUInt32LE(56),
    wqlen: payload.readUInt32LE(60),
    ino: payload.readUInt32LE(68),
    shutdown: shutdown ? shutdown.readUInt8(0) : 0,
  };
}

/** Every socket of `family`/`protocol` in the states CRIU collects, by inode. */
export function inetDiagDump(diag: DiagSocket, family: number, protocol: number): Map<number, InetDiag> {
  const states = protocol === IPPROTO_TCP ? TCP_COLLECTED_STATES : -1;
  const out = new Map<number, InetDiag>();
  for (const r of diag.dump(request(family, protocol, states), `inet family ${family} protocol ${protocol}`)) {
    const d = parseInetDiag(r.payload);
    out.set(d.ino, d);
  }
  return out;
}
