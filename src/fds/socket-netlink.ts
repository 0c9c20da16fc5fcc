/**
 * NETLINKSK: an AF_NETLINK socket, as CRIU 4.2's sk-netlink.c
 * dump_one_netlink_fd writes it: protocol, bound port id, multicast groups,
 * destination and state from netlink_diag (in the socket's namespace),
 * options and owner from crtool's duplicate.
 *
 * netlink_diag lists only bound sockets; an unbound one gets its protocol
 * from SO_PROTOCOL and zeros elsewhere, and an ns_id only when the task has
 * its own network namespace (CRIU asks the socket then).
 *
 * Refused as CRIU refuses them: a socket with messages waiting to be read
 * (they cannot be saved), more than 32 groups (the image keeps one word),
 * and groups without a port id.
 */
import type { DumpContext } from "../contract/dump-context.js";
import type { NetlinkSkEntry } from "../images/schema/types.js";
import type { FdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown } from "./fown.js";
import { toMessage } from "./message.js";
import { fileFlags } from "../kernel/index.js";
import { isSocketOf } from "./socket-family.js";
import { netnsId, taskHasOwnNetns } from "./socket-netns.js";
import { dumpSocketOpts } from "./socket-opts.js";
import { AF_NETLINK, POLLIN, SOL_SOCKET, SO_PROTOCOL } from "./sock-diag/constants.js";
import { socketNetnsIno, withDiagSocketFor } from "./sock-diag/netns.js";
import { netlinkDiagByIno } from "./sock-diag/netlink-diag.js";
import { getsockoptInt, pollNow } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

const KIND = "NETLINKSK";

/**
 * The groups word list as CRIU cuts it: the kernel sends whole longs, so a
 * trailing zero word (the upper half of a 64-bit long) is dropped, and what
 * is left must be one word.
 */
function groupWords(fd: TaskFd, groups: number[]): number[] {
  const words = groups.slice();
  if (words.length > 0 && words[words.length - 1] === 0) words.pop();
  if (words.length > 1) throw unsupported(fd, KIND, `netlink socket ${fd.stat.ino} is in groups above 32, which CRIU's image cannot hold`);
  return words;
}

export const netlinkSocketKind: FdKind = {
  type: KIND,
  field: "nlsk",
  detect: (fd: TaskFd) => isSocketOf(fd, AF_NETLINK),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const lfd = ctx.grab(fd);
    const flags = fileFlags(fd.fdinfo.flags);
    const ino = Number(fd.stat.ino);
    const { sk, netnsIno } = withDiagSocketFor(lfd, (diag, ns) => ({ sk: netlinkDiagByIno(diag, ino), netnsIno: ns }));
    // Messages waiting in the queue would be lost: CRIU refuses, and so does crtool.
    if (pollNow(lfd, POLLIN) & POLLIN) throw unsupported(fd, KIND, `netlink socket ${ino} has messages waiting to be read`);

    const entry: NetlinkSkEntry = {
      id,
      ino,
      protocol: sk ? sk.protocol : getsockoptInt(lfd, SOL_SOCKET, SO_PROTOCOL),
      state: sk?.state ?? 0,
      flags,
      portid: sk?.portid ?? 0,
      dst_portid: sk?.dstPortid ?? 0,
      dst_group: sk?.dstGroup ?? 0,
      fown: readFown(lfd, flags),
      opts: dumpSocketOpts(lfd, AF_NETLINK),
    };
    if (sk?.groups) {
      if (sk.portid === 0) throw unsupported(fd, KIND, `netlink socket ${ino} is in groups but has no port id`);
      entry.groups = groupWords(fd, sk.groups);
    }
    if (sk) entry.ns_id = netnsId(ctx, netnsIno);
    else if (taskHasOwnNetns(ctx, fd.pid)) entry.ns_id = netnsId(ctx, socketNetnsIno(lfd));
    return toMessage(entry);
  },
};
