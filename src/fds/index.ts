/**
 * The fd kinds crtool knows, in detection order (the first whose `detect`
 * accepts an fd handles it). Adding a kind: one module in this folder, one
 * line here.
 */
import type { FdKind, TaskFd } from "./fd-kind.js";
import { bpfMapKind } from "./bpfmap.js";
import { memfdKind } from "./memfd.js";
import { ttyKind } from "./tty.js";
import { fifoKind } from "./fifo.js";
import { regFileKind } from "./reg-file.js";
import { pipeKind } from "./pipe.js";
import { eventfdKind } from "./eventfd.js";
import { eventpollKind } from "./eventpoll.js";
import { signalfdKind } from "./signalfd.js";
import { timerfdKind } from "./timerfd.js";
import { inotifyKind } from "./inotify.js";
import { fanotifyKind } from "./fanotify.js";
import { pidfdKind } from "./pidfd.js";
import { nsFileKind } from "./ns-file.js";
import { unixSocketKind } from "./socket-unix.js";
import { inetSocketKind } from "./socket-inet.js";
import { netlinkSocketKind } from "./socket-netlink.js";
import { packetSocketKind } from "./socket-packet.js";

// memfd, tty and FIFO before REG: their links look like paths too.
export const FD_KINDS: readonly FdKind[] = [
  bpfMapKind,
  memfdKind,
  ttyKind,
  fifoKind,
  regFileKind,
  pipeKind,
  eventfdKind,
  eventpollKind,
  signalfdKind,
  timerfdKind,
  inotifyKind,
  fanotifyKind,
  pidfdKind,
  nsFileKind,
  unixSocketKind,
  inetSocketKind,
  netlinkSocketKind,
  packetSocketKind,
];

export function kindOf(fd: TaskFd): FdKind | undefined {
  return FD_KINDS.find((k) => k.detect(fd));
}

/** A readable name for an fd whose kind crtool does not know. */
export function describeUnknown(fd: TaskFd): string {
  const l = fd.link;
  switch (l.kind) {
    case "anon_inode": return `anon_inode:${l.name}`;
    case "pseudo": return `${l.type}:[${l.ino}]`;
    case "path": return l.path;
    default: return l.text;
  }
}
