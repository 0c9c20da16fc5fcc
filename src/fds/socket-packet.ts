/**
 * PACKETSK: an AF_PACKET socket, as CRIU 4.2's sk-packet.c
 * dump_one_packet_fd writes it: type, protocol, bound interface, version,
 * reserve, flags (aux data, original device, vnet header, loss), timestamp
 * source, copy threshold, multicast memberships, fanout and ring setup, all
 * from packet_diag (in the socket's namespace); options and owner from
 * crtool's duplicate.
 *
 * protocol is what socket() took, in network byte order (htons of the
 * diag's host-order number), as CRIU stores it. Packets waiting in the
 * queue are not saved, as CRIU does not save them. A ring's memory mapping
 * belongs to the task's memory, which crtool does not dump; only the ring's
 * configuration is written.
 */
import type { DumpContext } from "../contract/dump-context.js";
import type { PacketMclist, PacketRing, PacketSockEntry } from "../images/schema/types.js";
import type { FdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown } from "./fown.js";
import { toMessage } from "./message.js";
import { fileFlags } from "../kernel/index.js";
import { isSocketOf } from "./socket-family.js";
import { netnsId } from "./socket-netns.js";
import { dumpSocketOpts } from "./socket-opts.js";
import { AF_PACKET } from "./sock-diag/constants.js";
import { withDiagSocketFor } from "./sock-diag/netns.js";
import {
  PDI_AUXDATA, PDI_LOSS, PDI_ORIGDEV, PDI_VNETHDR, packetDiagByIno, type PacketMembership, type PacketRingConfig,
} from "./sock-diag/packet-diag.js";
import { unsupported } from "./unsupported.js";

const KIND = "PACKETSK";
const PACKET_MR_MULTICAST = 0;
const PACKET_MR_PROMISC = 1;
const PACKET_MR_ALLMULTI = 2;
const PACKET_MR_UNICAST = 3;

const htons = (n: number): number => ((n & 0xff) << 8) | ((n >>> 8) & 0xff);

function membership(fd: TaskFd, m: PacketMembership): PacketMclist {
  if (m.count !== 1) throw unsupported(fd, KIND, `interface ${m.index}: a membership added ${m.count} times (CRIU keeps one)`);
  switch (m.type) {
    case PACKET_MR_MULTICAST:
    case PACKET_MR_UNICAST:
      return { index: m.index, type: m.type, addr: Uint8Array.from(m.addr) };
    case PACKET_MR_PROMISC:
    case PACKET_MR_ALLMULTI:
      return { index: m.index, type: m.type, addr: new Uint8Array(0) };
    default:
      throw unsupported(fd, KIND, `interface ${m.index}: unknown membership type ${m.type}`);
  }
}

function ring(r: PacketRingConfig): PacketRing {
  return {
    block_size: r.blockSize, block_nr: r.blockNr, frame_size: r.frameSize, frame_nr: r.frameNr,
    retire_tmo: r.retireTmo, sizeof_priv: r.sizeofPriv, features: r.features,
  };
}

export const packetSocketKind: FdKind = {
  type: KIND,
  field: "psk",
  detect: (fd: TaskFd) => isSocketOf(fd, AF_PACKET),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const lfd = ctx.grab(fd);
    const flags = fileFlags(fd.fdinfo.flags);
    const ino = Number(fd.stat.ino);
    const { sk, netnsIno } = withDiagSocketFor(lfd, (diag, ns) => ({ sk: packetDiagByIno(diag, ino), netnsIno: ns }));
    if (!sk) throw unsupported(fd, KIND, `packet_diag does not know socket ${ino}`);
    if (!sk.info || !sk.mclist) throw unsupported(fd, KIND, `packet_diag gave no ${sk.info ? "membership list" : "info"} for socket ${ino}`);
    const info = sk.info;

    const entry: PacketSockEntry = {
      id,
      type: sk.type,
      protocol: htons(sk.num),
      flags,
      ifindex: info.index,
      fown: readFown(lfd, flags),
      opts: dumpSocketOpts(lfd, AF_PACKET),
      version: info.version,
      reserve: info.reserve,
      aux_data: (info.flags & PDI_AUXDATA) !== 0,
      orig_dev: (info.flags & PDI_ORIGDEV) !== 0,
      vnet_hdr: (info.flags & PDI_VNETHDR) !== 0,
      loss: (info.flags & PDI_LOSS) !== 0,
      timestamp: info.tstamp,
      copy_thresh: info.copyThresh,
    };
    if (sk.mclist.length > 0) entry.mclist = sk.mclist.map((m) => membership(fd, m));
    if (sk.fanout !== undefined) entry.fanout = sk.fanout;
    if (sk.rxRing) entry.rx_ring = ring(sk.rxRing);
    if (sk.txRing) entry.tx_ring = ring(sk.txRing);
    entry.ns_id = netnsId(ctx, netnsIno);
    return toMessage(entry);
  },
};
