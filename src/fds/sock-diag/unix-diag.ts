/**
 * unix_diag (linux/unix_diag.h): what the kernel tells about an AF_UNIX
 * socket — type, state, bound name, the inode it is bound to, its peer,
 * in-flight connections of a listener (icons), queue lengths and shutdown.
 * The same request CRIU's collect_sockets sends (UDIAG_SHOW_NAME | VFS |
 * PEER | ICONS | RQLEN), for one socket by inode or for all listeners.
 */
import { AF_UNIX, TCP_LISTEN } from "./constants.js";
import { parseAttrs, type DiagSocket } from "./netlink.js";

const UDIAG_SHOW_NAME = 0x01;
const UDIAG_SHOW_VFS = 0x02;
const UDIAG_SHOW_PEER = 0x04;
const UDIAG_SHOW_ICONS = 0x08;
const UDIAG_SHOW_RQLEN = 0x10;
const SHOW = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;

const UNIX_DIAG_NAME = 0;
const UNIX_DIAG_VFS = 1;
const UNIX_DIAG_PEER = 2;
const UNIX_DIAG_ICONS = 3;
const UNIX_DIAG_RQLEN = 4;
const UNIX_DIAG_SHUTDOWN = 6;

/** sizeof(struct unix_diag_msg) */
const MSG_SIZE = 16;

export interface UnixDiag {
  ino: number;
  type: number;
  state: number;
  /** sun_path bytes as bound (a leading NUL for abstract names); undefined when not bound. */
  name: Buffer | undefined;
  /** The bound file's inode and device (kernel dev_t encoding), for path names. */
  vfs: { ino: number; dev: number } | undefined;
  /** The peer's inode; 0 when the peer has no file any more (or is an unaccepted connection). */
  peer: number;
  /** For a listener: the inodes of the sockets whose connections wait in accept(). */
  icons: number[];
  /** Receive queue: bytes (stream/seqpacket), the first datagram's length (dgram), or pending connections (listener). */
  rqlen: number;
  /** Write memory in use (not yet consumed by the peer), or the backlog of a listener. */
  wqlen: number;
  /** SHUTDOWN_MASK bits: 1 receive, 2 send. */
  shutdown: number;
}

/** struct unix_diag_req for socket `ino` (0 with NLM_F_DUMP: every socket in `states`). */
function request(ino: number, states: number): Buffer {
  const r = Buffer.alloc(24);
  r.writeUInt8(AF_UNIX, 0);
  r.writeUInt32LE(states >>> 0, 4);
  r.writeUInt32LE(ino, 8);
  r.writeUInt32LE(SHOW, 12);
  // udiag_cookie = INET_DIAG_NOCOOKIE: do not check the cookie.
  r.writeUInt32LE(0xffffffff, 16);
  r.writeUInt32LE(0xffffffff, 20);
  return r;
}

export function parseUnixDiag(payload: Buffer): UnixDiag {
  const attrs = parseAttrs(payload, MSG_SIZE);
  const vfs = attrs.get(UNIX_DIAG_VFS);
  const peer = attrs.get(UNIX_DIAG_PEER);
  const icons = attrs.get(UNIX_DIAG_ICONS);
  const rq = attrs.get(UNIX_DIAG_RQLEN);
  const shutdown = attrs.get(UNIX_DIAG_SHUTDOWN);
  const iconList: number[] = [];
  if (icons) for (let i = 0; i + 4 <= icons.length; i += 4) iconList.push(icons.readUInt32LE(i));
  return {
    type: payload.readUInt8(1),
    state: payload.readUInt8(2),
    ino: payload.readUInt32LE(4),
    name: attrs.get(UNIX_DIAG_NAME),
    vfs: vfs ? { ino: vfs.readUInt32LE(0), dev: vfs.readUInt32LE(4) } : undefined,
    peer: peer ? peer.readUInt32LE(0) : 0,
    icons: iconList,
    rqlen: rq ? rq.readUInt32LE(0) : 0,
    wqlen: rq ? rq.readUInt32LE(4) : 0,
    shutdown: shutdown ? shutdown.readUInt8(0) : 0,
  };
}

/** The socket with inode `ino` in the diag socket's namespace, or undefined. */
export function unixDiagByIno(diag: DiagSocket, ino: number): UnixDiag | undefined {
  const reply = diag.get(request(ino, -1), `unix socket ${ino}`);
  return reply ? parseUnixDiag(reply.payload) : undefined;
}

/** Every listening unix socket of the namespace (to find who holds an in-flight connection). */
export function unixListeners(diag: DiagSocket): UnixDiag[] {
  return diag.dump(request(0, 1 << TCP_LISTEN), "unix listeners").map((r) => parseUnixDiag(r.payload));
}
