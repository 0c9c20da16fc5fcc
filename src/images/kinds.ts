/**
 * What each image type holds: the message of each entry and the payload after
 * it. Most images are a run of one message type; a few are special (pagemap's
 * head entry, ghost files' chunks, payload-carrying images).
 */
import type { MagicName } from "./magic.js";
import type { MessageType } from "./schema/message-type.js";
import { messageTypeByName } from "./schema/registry.js";
import type { ImageMessage } from "./wire/message.js";
import type { PayloadLayout } from "./payloads/layout.js";
import { NotSupportedError } from "./errors.js";

export interface ImageKind {
  readonly magic: MagicName;
  /** Message type of entry `index`; `first` is entry 0 once it has been read. */
  entryType(index: number, first: ImageMessage | undefined): MessageType;
  /** Payload that follows entry `index`, if any. */
  payload(index: number, message: ImageMessage, first: ImageMessage | undefined): PayloadLayout | undefined;
}

const num = (m: ImageMessage, k: string): number => Number(m[k] ?? 0);

function simple(magic: MagicName, typeName: string, payload?: (m: ImageMessage) => PayloadLayout | undefined): ImageKind {
  let type: MessageType | undefined;
  return {
    magic,
    entryType: () => (type ??= messageTypeByName(typeName)),
    payload: payload ? (_i, m) => payload(m) : () => undefined,
  };
}

const bytes = (size: number, align = 1): PayloadLayout => ({ kind: "bytes", size, align });

const SIMPLE: Partial<Record<MagicName, string>> = {
  INVENTORY: "inventory_entry",
  CORE: "core_entry",
  IDS: "task_kobj_ids_entry",
  CREDS: "creds_entry",
  UTSNS: "utsns_entry",
  TIMENS: "timens_entry",
  PIDNS: "pidns_entry",
  IPC_VAR: "ipc_var_entry",
  FS: "fs_entry",
  MM: "mm_entry",
  CGROUP: "cgroup_entry",
  STATS: "stats_entry",
  PSTREE: "pstree_entry",
  REG_FILES: "reg_file_entry",
  NS_FILES: "ns_file_entry",
  EVENTFD_FILE: "eventfd_file_entry",
  EVENTPOLL_FILE: "eventpoll_file_entry",
  EVENTPOLL_TFD: "eventpoll_tfd_entry",
  SIGNALFD: "signalfd_entry",
  TIMERFD: "timerfd_entry",
  INOTIFY_FILE: "inotify_file_entry",
  INOTIFY_WD: "inotify_wd_entry",
  FANOTIFY_FILE: "fanotify_file_entry",
  FANOTIFY_MARK: "fanotify_mark_entry",
  VMAS: "vma_entry",
  PIPES: "pipe_entry",
  FIFO: "fifo_entry",
  SIGACT: "sa_entry",
  NETLINK_SK: "netlink_sk_entry",
  REMAP_FPATH: "remap_file_path_entry",
  MNTS: "mnt_entry",
  TTY_FILES: "tty_file_entry",
  TTY_INFO: "tty_info_entry",
  TTY_DATA: "tty_data_entry",
  RLIMIT: "rlimit_entry",
  TUNFILE: "tunfile_entry",
  EXT_FILES: "ext_file_entry",
  IRMAP_CACHE: "irmap_cache_entry",
  FILE_LOCKS: "file_lock_entry",
  FDINFO: "fdinfo_entry",
  UNIXSK: "unix_sk_entry",
  INETSK: "inet_sk_entry",
  PACKETSK: "packet_sock_entry",
  ITIMERS: "itimer_entry",
  POSIX_TIMERS: "posix_timer_entry",
  NETDEV: "net_device_entry",
  NETNS: "netns_entry",
  USERNS: "userns_entry",
  SECCOMP: "seccomp_entry",
  AUTOFS: "autofs_entry",
  FILES: "file_entry",
  CPUINFO: "cpuinfo_entry",
  MEMFD_INODE: "memfd_inode_entry",
  BPFMAP_FILE: "bpfmap_file_entry",
  APPARMOR: "apparmor_entry",
  // crit has no handler for these three; CRIU writes them with these messages.
  SIGNAL: "siginfo_entry",
  BINFMT_MISC: "binfmt_misc_entry",
  PIDFD: "pidfd_entry",
  // crtool's own.
  BPF_BTF: "crtool_btf_entry",
  BPF_PROG: "crtool_bpf_prog_entry",
  BPF_LINK: "crtool_bpf_link_entry",
  PERF_EVENT: "crtool_perf_event_entry",
};

function pagemap(): ImageKind {
  let head: MessageType | undefined;
  let entry: MessageType | undefined;
  return {
    magic: "PAGEMAP",
    entryType: (i) => (i === 0 ? (head ??= messageTypeByName("pagemap_head")) : (entry ??= messageTypeByName("pagemap_entry"))),
    payload: () => undefined,
  };
}

function ghostFile(): ImageKind {
  let file: MessageType | undefined;
  let chunk: MessageType | undefined;
  return {
    magic: "GHOST_FILE",
    entryType: (i) => (i === 0 ? (file ??= messageTypeByName("ghost_file_entry")) : (chunk ??= messageTypeByName("ghost_chunk_entry"))),
    payload: (i, m, first) => {
      if (i === 0) return m.chunks ? undefined : { kind: "rest" };
      return first?.chunks ? bytes(num(m, "len")) : undefined;
    },
  };
}

const kinds = new Map<MagicName, ImageKind>();

function build(magic: MagicName): ImageKind | undefined {
  const typeName = SIMPLE[magic];
  if (typeName) return simple(magic, typeName);
  switch (magic) {
    case "PAGEMAP": return pagemap();
    case "GHOST_FILE": return ghostFile();
    case "PIPES_DATA": return simple(magic, "pipe_data_entry", (m) => bytes(num(m, "bytes")));
    case "FIFO_DATA": return simple(magic, "pipe_data_entry", (m) => bytes(num(m, "bytes")));
    case "SK_QUEUES": return simple(magic, "sk_packet_entry", (m) => bytes(num(m, "length")));
    case "BPFMAP_DATA": return simple(magic, "bpfmap_data_entry", (m) => bytes(num(m, "keys_bytes") + num(m, "values_bytes")));
    // Since CRIU 4.2 a segment's contents go to pagemap/pages images (in_pagemaps);
    // only older dumps carry them after the entry. crit reads them regardless.
    case "IPCNS_SHM": return simple(magic, "ipc_shm_entry", (m) => (m.in_pagemaps ? undefined : bytes(num(m, "size"), 4)));
    case "IPCNS_SEM": return simple(magic, "ipc_sem_entry", (m) => ({ kind: "sem", count: num(m, "nsems") }));
    case "IPCNS_MSG": return simple(magic, "ipc_msg_entry", (m) => ({ kind: "msgs", count: num(m, "qnum") }));
    case "TCP_STREAM": return simple(magic, "tcp_stream_entry", (m) => ({ kind: "tcp", inq: num(m, "inq_len"), outq: num(m, "outq_len") }));
    default: return undefined;
  }
}

/** The kind of image a magic names; NotSupportedError for non-protobuf magics (KDAT...). */
export function imageKind(magic: MagicName): ImageKind {
  let k = kinds.get(magic);
  if (!k) {
    k = build(magic);
    if (!k) throw new NotSupportedError(`images with magic ${magic} are not protobuf entries and cannot be decoded`);
    kinds.set(magic, k);
  }
  return k;
}
