/**
 * The fd kinds crtool knows, in detection order (the first whose `detect`
 * accepts an fd handles it). Adding a kind: one module in this folder, one
 * line here.
 */
import { FD_TYPE_NUMBERS, type FdKind, type TaskFd } from "../contract/fd-kind.js";
import type { ImageMessage } from "../images/wire/message.js";
import { getExtFields } from "../images/ext-fields.js";
import { bpfMapKind } from "./bpfmap.js";
import { btfKind } from "./btf.js";
import { bpfProgKind } from "./bpf-prog.js";
import { bpfLinkKind } from "./bpf-link.js";
import { perfEventKind } from "./perf-event.js";
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
  btfKind,
  bpfProgKind,
  bpfLinkKind,
  perfEventKind,
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

/**
 * The kind that wrote a files.img entry: by its fd type, and for EXT files
 * by the kind name crtool recorded in the ext_file_entry (an EXT file
 * without one is a CRIU plugin's, which crtool does not know).
 */
export function kindOfEntry(entry: ImageMessage): FdKind | undefined {
  const type = typeof entry.type === "number" ? entry.type : -1;
  if (type !== FD_TYPE_NUMBERS.EXT) return FD_KINDS.find((k) => FD_TYPE_NUMBERS[k.type] === type);
  const ext = entry.ext;
  const kind = ext && typeof ext === "object" && !Array.isArray(ext) && !(ext instanceof Uint8Array) ? getExtFields("ext_file_entry", ext as ImageMessage).kind : undefined;
  return kind === undefined ? undefined : FD_KINDS.find((k) => k.extKind === kind);
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
