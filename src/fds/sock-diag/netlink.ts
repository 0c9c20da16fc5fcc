/**
 * A minimal NETLINK_SOCK_DIAG client: one SOCK_DIAG_BY_FAMILY request, its
 * replies collected until the kernel says it is done. The per-family
 * request and reply layouts are in the *-diag.ts files next to this one.
 *
 * sock_diag answers for the network namespace the diag socket was created
 * in, so a socket of another namespace is looked up through a diag socket
 * opened there (netns.ts).
 */
import { CrtoolError } from "../../images/errors.js";
import { close, errnoName, errnoText, stableBuffer } from "../../kernel/index.js";
import { AF_NETLINK, MSG_TRUNC, NETLINK_SOCK_DIAG, SOCK_CLOEXEC, SOCK_DGRAM, SOL_SOCKET, SO_RCVTIMEO_OLD } from "./constants.js";
import { recvmsg, sendmsg, setsockopt, socket } from "../../kernel/index.js";

const SOCK_DIAG_BY_FAMILY = 20;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLMSG_HDRLEN = 16;
const EMSGSIZE = 90;

/** The kernel refused a sock_diag request (ENOENT: no such socket; EINVAL/EOPNOTSUPP: no diag module for it). */
export class SockDiagError extends CrtoolError {
  readonly code: string;
  constructor(readonly errno: number, what: string) {
    super(`sock_diag ${what}: ${errnoText(errno)} (${errnoName(errno)})`);
    this.code = errnoName(errno);
  }
}

/** One reply: the message type and its payload (after struct nlmsghdr). */
export interface NlReply {
  type: number;
  payload: Buffer;
}

/** Rounds up to netlink's 4-byte alignment. */
export const nlAlign = (n: number): number => (n + 3) & ~3;

/**
 * The attributes (struct nlattr {u16 len; u16 type;} + data, 4-aligned)
 * from `offset` on, by type; the flag bits of the type are dropped.
 */
export function parseAttrs(buf: Buffer, offset: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = offset; off + 4 <= buf.length; ) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 2) & 0x3fff;
    if (!out.has(type)) out.set(type, buf.subarray(off + 4, off + len));
    off += nlAlign(len);
  }
  return out;
}

export class DiagSocket {
  private seq = 1;
  private readonly rx = stableBuffer(64 * 1024);

  private constructor(readonly fd: number) {}

  /** A diag socket in the calling thread's network namespace. */
  static open(): DiagSocket {
    const fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    try {
      // A reply that never comes must not hang the dump: 10 s, then EAGAIN.
      const tv = Buffer.alloc(16);
      tv.writeBigInt64LE(10n, 0);
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO_OLD, tv);
    } catch (e) {
      close(fd);
      throw e;
    }
    return new DiagSocket(fd);
  }

  close(): void {
    close(this.fd);
  }

  /** A dump request (NLM_F_DUMP): every matching socket's reply. */
  dump(request: Uint8Array, what: string): NlReply[] {
    return this.exchange(request, NLM_F_REQUEST | NLM_F_DUMP, what);
  }

  /**
   * An exact request (one socket by inode): its reply, or undefined when the
   * kernel knows no such socket (ENOENT).
   */
  get(request: Uint8Array, what: string): NlReply | undefined {
    try {
      const replies = this.exchange(request, NLM_F_REQUEST | NLM_F_ACK, what);
      return replies[0];
    } catch (e) {
      if (e instanceof SockDiagError && e.code === "ENOENT") return undefined;
      throw e;
    }
  }

  private exchange(request: Uint8Array, flags: number, what: string): NlReply[] {
    const seq = this.seq++;
    const msg = Buffer.alloc(NLMSG_HDRLEN + request.length);
    msg.writeUInt32LE(msg.length, 0);
    msg.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
    msg.writeUInt16LE(flags, 6);
    msg.writeUInt32LE(seq, 8);
    msg.set(request, NLMSG_HDRLEN);
    // struct sockaddr_nl {family, pad, pid 0 (the kernel), groups 0}
    const kernel = Buffer.alloc(12);
    kernel.writeUInt16LE(AF_NETLINK, 0);
    sendmsg(this.fd, msg, kernel);

    const replies: NlReply[] = [];
    for (;;) {
      const r = recvmsg(this.fd, this.rx, 0);
      if (typeof r === "number") throw new SockDiagError(-r, `${what}: recvmsg`);
      if (r.flags & MSG_TRUNC) throw new SockDiagError(EMSGSIZE, `${what}: reply truncated`);
      for (let off = 0; off + NLMSG_HDRLEN <= r.length; ) {
        const len = this.rx.readUInt32LE(off);
        if (len < NLMSG_HDRLEN || off + len > r.length) break;
        const type = this.rx.readUInt16LE(off + 4);
        const rseq = this.rx.readUInt32LE(off + 8);
        const payload = Buffer.from(this.rx.subarray(off + NLMSG_HDRLEN, off + len));
        off += nlAlign(len);
        if (rseq !== seq) continue; // a late reply to an earlier request
        if (type === NLMSG_DONE) {
          // Since Linux 4.x a dump may end with an error in its DONE message.
          const err = payload.length >= 4 ? payload.readInt32LE(0) : 0;
          if (err < 0) throw new SockDiagError(-err, what);
          return replies;
        }
        if (type === NLMSG_ERROR) {
          const err = payload.readInt32LE(0);
          if (err < 0) throw new SockDiagError(-err, what);
          return replies; // the ack of an exact request
        }
        replies.push({ type, payload });
      }
    }
  }
}
