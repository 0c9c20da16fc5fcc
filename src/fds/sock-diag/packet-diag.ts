/**
 * packet_diag (linux/packet_diag.h): type, protocol, bound interface,
 * version, reserve, flags, multicast memberships, fanout and rings of
 * AF_PACKET sockets. Dump only; the caller's inode is picked out. The show
 * flags are CRIU's (INFO | MCLIST | FANOUT | RING_CFG).
 */
import { AF_PACKET } from "./constants.js";
import { parseAttrs, type DiagSocket } from "./netlink.js";

const PACKET_SHOW_INFO = 0x1;
const PACKET_SHOW_MCLIST = 0x2;
const PACKET_SHOW_RING_CFG = 0x4;
const PACKET_SHOW_FANOUT = 0x8;

const PACKET_DIAG_INFO = 0;
const PACKET_DIAG_MCLIST = 1;
const PACKET_DIAG_RX_RING = 2;
const PACKET_DIAG_TX_RING = 3;
const PACKET_DIAG_FANOUT = 4;
/** sizeof(struct packet_diag_msg) */
const MSG_SIZE = 16;
/** sizeof(struct packet_diag_mclist): index, count, type, alen, addr[MAX_ADDR_LEN = 32] */
const MCLIST_SIZE = 44;

export const PDI_RUNNING = 0x1;
export const PDI_AUXDATA = 0x2;
export const PDI_ORIGDEV = 0x4;
export const PDI_VNETHDR = 0x8;
export const PDI_LOSS = 0x10;

export interface PacketInfo {
  index: number;
  version: number;
  reserve: number;
  copyThresh: number;
  tstamp: number;
  flags: number;
}

export interface PacketMembership {
  index: number;
  count: number;
  type: number;
  addr: Buffer;
}

export interface PacketRingConfig {
  blockSize: number;
  blockNr: number;
  frameSize: number;
  frameNr: number;
  retireTmo: number;
  sizeofPriv: number;
  features: number;
}

export interface PacketDiag {
  ino: number;
  type: number;
  /** pdiag_num: the protocol in host order (socket() took it in network order). */
  num: number;
  info: PacketInfo | undefined;
  /** undefined when the kernel sent no list at all (CRIU refuses that). */
  mclist: PacketMembership[] | undefined;
  fanout: number | undefined;
  rxRing: PacketRingConfig | undefined;
  txRing: PacketRingConfig | undefined;
}

function ring(b: Buffer | undefined): PacketRingConfig | undefined {
  if (!b) return undefined;
  const u = (i: number): number => b.readUInt32LE(4 * i);
  return { blockSize: u(0), blockNr: u(1), frameSize: u(2), frameNr: u(3), retireTmo: u(4), sizeofPriv: u(5), features: u(6) };
}

export function parsePacketDiag(payload: Buffer): PacketDiag {
  const attrs = parseAttrs(payload, MSG_SIZE);
  const info = attrs.get(PACKET_DIAG_INFO);
  const mc = attrs.get(PACKET_DIAG_MCLIST);
  const fanout = attrs.get(PACKET_DIAG_FANOUT);
  let mclist: PacketMembership[] | undefined;
  if (mc) {
    mclist = [];
    for (let off = 0; off + MCLIST_SIZE <= mc.length; off += MCLIST_SIZE) {
      const alen = mc.readUInt16LE(off + 10);
      mclist.push({ index: mc.readUInt32LE(off), count: mc.readUInt32LE(off + 4), type: mc.readUInt16LE(off + 8), addr: Buffer.from(mc.subarray(off + 12, off + 12 + Math.min(alen, 32))) });
    }
  }
  return {
    type: payload.readUInt8(1),
    num: payload.readUInt16LE(2),
    ino: payload.readUInt32LE(4),
    info: info
      ? { index: info.readUInt32LE(0), version: info.readUInt32LE(4), reserve: info.readUInt32LE(8), copyThresh: info.readUInt32LE(12), tstamp: info.readUInt32LE(16), flags: info.readUInt32LE(20) }
      : undefined,
    mclist,
    fanout: fanout ? fanout.readUInt32LE(0) : undefined,
    rxRing: ring(attrs.get(PACKET_DIAG_RX_RING)),
    txRing: ring(attrs.get(PACKET_DIAG_TX_RING)),
  };
}

/** The packet socket with inode `ino`, or undefined. */
export function packetDiagByIno(diag: DiagSocket, ino: number): PacketDiag | undefined {
  // struct packet_diag_req {family, protocol, pad, ino, show, cookie[2]}
  const r = Buffer.alloc(20);
  r.writeUInt8(AF_PACKET, 0);
  r.writeUInt32LE(PACKET_SHOW_INFO | PACKET_SHOW_MCLIST | PACKET_SHOW_FANOUT | PACKET_SHOW_RING_CFG, 8);
  for (const reply of diag.dump(r, "packet sockets")) {
    const d = parsePacketDiag(reply.payload);
    if (d.ino === ino) return d;
  }
  return undefined;
}
