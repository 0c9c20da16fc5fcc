/**
 * netlink_diag (linux/netlink_diag.h): protocol, bound port id, multicast
 * groups, destination and state of AF_NETLINK sockets. The kernel only
 * dumps (no lookup by inode), and only sockets that are bound (explicitly,
 * or automatically on first send); the caller picks its inode out.
 */
import { AF_NETLINK } from "./constants.js";
import { parseAttrs, type DiagSocket } from "./netlink.js";

const NDIAG_PROTO_ALL = 255;
const NDIAG_SHOW_GROUPS = 0x2;
const NETLINK_DIAG_GROUPS = 1;
/** sizeof(struct netlink_diag_msg) */
const MSG_SIZE = 28;

export interface NetlinkDiag {
  ino: number;
  protocol: number;
  state: number;
  portid: number;
  dstPortid: number;
  dstGroup: number;
  /**
   * The group bitmap as 32-bit words (the kernel sends whole longs), or
   * undefined when the socket never joined a group (no bitmap at all).
   */
  groups: number[] | undefined;
}

export function parseNetlinkDiag(payload: Buffer): NetlinkDiag {
  const attrs = parseAttrs(payload, MSG_SIZE);
  const g = attrs.get(NETLINK_DIAG_GROUPS);
  let groups: number[] | undefined;
  if (g) {
    groups = [];
    for (let i = 0; i + 4 <= g.length; i += 4) groups.push(g.readUInt32LE(i));
  }
  return {
    protocol: payload.readUInt8(2),
    state: payload.readUInt8(3),
    portid: payload.readUInt32LE(4),
    dstPortid: payload.readUInt32LE(8),
    dstGroup: payload.readUInt32LE(12),
    ino: payload.readUInt32LE(16),
    groups,
  };
}

/** The bound netlink socket with inode `ino`, or undefined (unbound sockets are not listed). */
export function netlinkDiagByIno(diag: DiagSocket, ino: number): NetlinkDiag | undefined {
  // struct netlink_diag_req {family, protocol, pad, ino, show, cookie[2]}
  const r = Buffer.alloc(20);
  r.writeUInt8(AF_NETLINK, 0);
  r.writeUInt8(NDIAG_PROTO_ALL, 1);
  r.writeUInt32LE(NDIAG_SHOW_GROUPS, 8);
  for (const reply of diag.dump(r, "netlink sockets")) {
    const d = parseNetlinkDiag(reply.payload);
    if (d.ino === ino) return d;
  }
  return undefined;
}
