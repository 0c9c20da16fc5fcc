/**
 * CRIU's image magic numbers (CRIU 4.2 magic.h) and the file names each
 * image type is written under. Names are the crit names: the C macro
 * without its `_MAGIC` suffix.
 */

export const IMG_COMMON_MAGIC = 0x54564319;
export const IMG_SERVICE_MAGIC = 0x55105940;

/**
 * Every distinct magic value with the name crit gives it. Aliases that share
 * a value (SHMEM_PAGEMAP, PAGES_OLD, SHM_PAGES_OLD = PAGEMAP; PSIGNAL = SIGNAL;
 * BINFMT_MISC_OLD = BINFMT_MISC) are decoded under the first name, as crit does.
 */
export const MAGICS = {
  INVENTORY: 0x58313116,
  PSTREE: 0x50273030,
  FDINFO: 0x56213732,
  PAGEMAP: 0x56084025,
  CORE: 0x55053847,
  IDS: 0x54432030,
  VMAS: 0x54123737,
  PIPES: 0x56513555,
  PIPES_DATA: 0x56453709,
  FIFO: 0x58364939,
  FIFO_DATA: 0x59333054,
  SIGACT: 0x55344201,
  UNIXSK: 0x54373943,
  INETSK: 0x56443851,
  PACKETSK: 0x60454618,
  ITIMERS: 0x57464056,
  POSIX_TIMERS: 0x52603957,
  SK_QUEUES: 0x56264026,
  UTSNS: 0x54473203,
  CREDS: 0x54023547,
  IPC_VAR: 0x53115007,
  IPCNS_SHM: 0x46283044,
  IPCNS_MSG: 0x55453737,
  IPCNS_SEM: 0x59573019,
  REG_FILES: 0x50363636,
  EXT_FILES: 0x59255641,
  FS: 0x51403912,
  MM: 0x57492820,
  REMAP_FPATH: 0x59133954,
  GHOST_FILE: 0x52583605,
  TCP_STREAM: 0x51465506,
  EVENTFD_FILE: 0x44523722,
  EVENTPOLL_FILE: 0x45023858,
  EVENTPOLL_TFD: 0x44433746,
  SIGNALFD: 0x57323820,
  INOTIFY_FILE: 0x48424431,
  INOTIFY_WD: 0x54562009,
  MNTS: 0x55563928,
  NETDEV: 0x57373951,
  NETNS: 0x55933752,
  TTY_FILES: 0x59433025,
  TTY_INFO: 0x59453036,
  TTY_DATA: 0x59413026,
  FILE_LOCKS: 0x54323616,
  RLIMIT: 0x57113925,
  FANOTIFY_FILE: 0x55096122,
  FANOTIFY_MARK: 0x56506035,
  SIGNAL: 0x59255647,
  NETLINK_SK: 0x58005614,
  NS_FILES: 0x61394011,
  TUNFILE: 0x57143751,
  CGROUP: 0x59383330,
  TIMERFD: 0x50493712,
  CPUINFO: 0x61404013,
  USERNS: 0x55474906,
  SECCOMP: 0x64413049,
  BINFMT_MISC: 0x67343323,
  AUTOFS: 0x49353943,
  FILES: 0x56303138,
  MEMFD_INODE: 0x48453499,
  TIMENS: 0x43114433,
  PIDNS: 0x61157326,
  BPFMAP_FILE: 0x57506142,
  BPFMAP_DATA: 0x64324033,
  APPARMOR: 0x59423047,
  PIDFD: 0x54435556,
  STATS: 0x57093306,
  IRMAP_CACHE: 0x57004059,
  // crtool's own images (proto/crtool-bpf-objects.proto): values CRIU does not use.
  BPF_BTF: 0x63425401,
  BPF_PROG: 0x63425402,
  BPF_LINK: 0x63425403,
  PERF_EVENT: 0x63425404,
  // Not protobuf images: known so that the error can say what they are.
  KDAT: 0x57023458,
  IMG_COMMON: IMG_COMMON_MAGIC,
  IMG_SERVICE: IMG_SERVICE_MAGIC,
} as const;

export type MagicName = keyof typeof MAGICS;

const BY_VALUE = new Map<number, MagicName>(
  (Object.entries(MAGICS) as [MagicName, number][]).map(([name, value]) => [value, name]),
);

export function magicName(value: number): MagicName | undefined {
  return BY_VALUE.get(value);
}

export function isMagicName(name: string): name is MagicName {
  return Object.prototype.hasOwnProperty.call(MAGICS, name);
}

/** The 4-byte word written before the image's own magic, or none (inventory). */
export function headerPrefix(name: MagicName): number | undefined {
  if (name === "INVENTORY") return undefined;
  if (name === "STATS" || name === "IRMAP_CACHE") return IMG_SERVICE_MAGIC;
  return IMG_COMMON_MAGIC;
}

/**
 * File-name patterns of CRIU 4.2 images (image-desc.c) to their magic, used to
 * recognise files in a dump directory. Raw images (pages-*, network dumps)
 * map to `null`: they have no header and cannot be decoded.
 */
const FILE_PATTERNS: [RegExp, MagicName | null][] = [
  [/^inventory\.img$/, "INVENTORY"],
  [/^fdinfo-\d+\.img$/, "FDINFO"],
  [/^pagemap-(shmem-)?\d+\.img$/, "PAGEMAP"],
  [/^reg-files\.img$/, "REG_FILES"],
  [/^ext-files\.img$/, "EXT_FILES"],
  [/^ns-files\.img$/, "NS_FILES"],
  [/^eventfd\.img$/, "EVENTFD_FILE"],
  [/^eventpoll\.img$/, "EVENTPOLL_FILE"],
  [/^eventpoll-tfd\.img$/, "EVENTPOLL_TFD"],
  [/^signalfd\.img$/, "SIGNALFD"],
  [/^inotify\.img$/, "INOTIFY_FILE"],
  [/^inotify-wd\.img$/, "INOTIFY_WD"],
  [/^fanotify\.img$/, "FANOTIFY_FILE"],
  [/^fanotify-mark\.img$/, "FANOTIFY_MARK"],
  [/^core-\d+\.img$/, "CORE"],
  [/^ids-\d+\.img$/, "IDS"],
  [/^mm-\d+\.img$/, "MM"],
  [/^vmas-\d+\.img$/, "VMAS"],
  [/^pipes\.img$/, "PIPES"],
  [/^pipes-data\.img$/, "PIPES_DATA"],
  [/^fifo\.img$/, "FIFO"],
  [/^fifo-data\.img$/, "FIFO_DATA"],
  [/^pstree\.img$/, "PSTREE"],
  [/^sigacts-\d+\.img$/, "SIGACT"],
  [/^unixsk\.img$/, "UNIXSK"],
  [/^inetsk\.img$/, "INETSK"],
  [/^packetsk\.img$/, "PACKETSK"],
  [/^netlinksk\.img$/, "NETLINK_SK"],
  [/^sk-queues\.img$/, "SK_QUEUES"],
  [/^itimers-\d+\.img$/, "ITIMERS"],
  [/^posix-timers-\d+\.img$/, "POSIX_TIMERS"],
  [/^creds-\d+\.img$/, "CREDS"],
  [/^utsns-\d+\.img$/, "UTSNS"],
  [/^ipcns-var-\d+\.img$/, "IPC_VAR"],
  [/^ipcns-shm-\d+\.img$/, "IPCNS_SHM"],
  [/^ipcns-msg-\d+\.img$/, "IPCNS_MSG"],
  [/^ipcns-sem-\d+\.img$/, "IPCNS_SEM"],
  [/^fs-\d+\.img$/, "FS"],
  [/^remap-fpath\.img$/, "REMAP_FPATH"],
  [/^ghost-file-[0-9a-f]+\.img$/, "GHOST_FILE"],
  [/^memfd\.img$/, "MEMFD_INODE"],
  [/^tcp-stream-[0-9a-f]+\.img$/, "TCP_STREAM"],
  [/^mountpoints-\d+\.img$/, "MNTS"],
  [/^netdev-\d+\.img$/, "NETDEV"],
  [/^netns-\d+\.img$/, "NETNS"],
  [/^autofs-\d+\.img$/, "AUTOFS"],
  [/^binfmt-misc(-\d+)?\.img$/, "BINFMT_MISC"],
  [/^tty\.img$/, "TTY_FILES"],
  [/^tty-info\.img$/, "TTY_INFO"],
  [/^tty-data\.img$/, "TTY_DATA"],
  [/^filelocks\.img$/, "FILE_LOCKS"],
  [/^rlimit-\d+\.img$/, "RLIMIT"],
  [/^signal-[sp]-\d+\.img$/, "SIGNAL"],
  [/^tunfile\.img$/, "TUNFILE"],
  [/^cgroup\.img$/, "CGROUP"],
  [/^timerfd\.img$/, "TIMERFD"],
  [/^cpuinfo\.img$/, "CPUINFO"],
  [/^seccomp\.img$/, "SECCOMP"],
  [/^userns-\d+\.img$/, "USERNS"],
  [/^files\.img$/, "FILES"],
  [/^timens-\d+\.img$/, "TIMENS"],
  [/^pidns-\d+\.img$/, "PIDNS"],
  [/^bpfmap-file\.img$/, "BPFMAP_FILE"],
  [/^bpfmap-data\.img$/, "BPFMAP_DATA"],
  [/^apparmor\.img$/, "APPARMOR"],
  [/^pidfd\.img$/, "PIDFD"],
  [/^bpf-btf\.img$/, "BPF_BTF"],
  [/^bpf-prog\.img$/, "BPF_PROG"],
  [/^bpf-link\.img$/, "BPF_LINK"],
  [/^perf-event\.img$/, "PERF_EVENT"],
  [/^stats-(dump|restore)$/, "STATS"],
  [/^irmap-cache$/, "IRMAP_CACHE"],
  [/^(pages-(shmem-)?-?\d+|ifaddr-\d+|route6?-\d+|rule-\d+|ip6?tables-\d+|nftables-\d+|netns-(ct|exp)-\d+|tmpfs(-dev)?-\d+\.tar\.gz)\.img$/, null],
];

/** The magic an image file of this name should carry; null for raw images; undefined if unknown. */
export function magicForFileName(baseName: string): MagicName | null | undefined {
  for (const [re, magic] of FILE_PATTERNS) if (re.test(baseName)) return magic;
  return undefined;
}
