/**
 * bpf(2) numbers as of Linux 6.18 (checked against the running kernel's BTF,
 * /sys/kernel/btf/vmlinux; the installed uapi headers are 6.1 and lack the
 * newer entries).
 */
import { MAP_TYPE, type MapTypeName } from "../abi/bpf.js";

export * from "../abi/bpf.js";

/** enum bpf_cmd. */
export const BPF_CMD = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  BTF_GET_FD_BY_ID: 19,
  TASK_FD_QUERY: 20,
  MAP_LOOKUP_AND_DELETE_ELEM: 21,
  MAP_FREEZE: 22,
  BTF_GET_NEXT_ID: 23,
  MAP_LOOKUP_BATCH: 24,
  MAP_LOOKUP_AND_DELETE_BATCH: 25,
  MAP_UPDATE_BATCH: 26,
  MAP_DELETE_BATCH: 27,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
  ITER_CREATE: 33,
  LINK_DETACH: 34,
  PROG_BIND_MAP: 35,
  TOKEN_CREATE: 36,
  PROG_STREAM_READ_BY_FD: 37,
} as const;

export type BpfCmdName = keyof typeof BPF_CMD;

const CMD_NAMES: string[] = [];
for (const [name, n] of Object.entries(BPF_CMD)) CMD_NAMES[n] = `BPF_${name}`;

/** "BPF_MAP_CREATE" for 0. */
export function bpfCmdName(cmd: number): string {
  return CMD_NAMES[cmd] ?? `BPF_CMD_${cmd}`;
}

/** The number for a name or a number (validated). */
export function mapTypeNumber(type: number | MapTypeName): number {
  if (typeof type === "number") {
    if (!Number.isInteger(type) || type < 0) throw new TypeError(`invalid map type ${type}`);
    return type;
  }
  const n = MAP_TYPE[type];
  if (n === undefined) throw new TypeError(`unknown map type ${String(type)}`);
  return n;
}

/** Map types whose values the kernel returns once per possible CPU, each rounded up to 8 bytes. */
export const PERCPU_MAP_TYPES: ReadonlySet<number> = new Set([
  MAP_TYPE.PERCPU_HASH,
  MAP_TYPE.PERCPU_ARRAY,
  MAP_TYPE.LRU_PERCPU_HASH,
  MAP_TYPE.PERCPU_CGROUP_STORAGE,
]);

/** Map types whose values are fds on update and object ids (u32) on lookup. */
export const FD_VALUE_MAP_TYPES: ReadonlySet<number> = new Set([
  MAP_TYPE.PROG_ARRAY,
  MAP_TYPE.PERF_EVENT_ARRAY,
  MAP_TYPE.CGROUP_ARRAY,
  MAP_TYPE.ARRAY_OF_MAPS,
  MAP_TYPE.HASH_OF_MAPS,
]);


/** MAP_UPDATE_ELEM flags; BPF_F_LOCK also applies to lookups and batches (elem_flags). */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

/** BPF_OBJ_NAME_LEN: names hold 15 bytes plus the NUL. */
export const BPF_OBJ_NAME_LEN = 16;

/** enum bpf_prog_type, the few crtool needs. */
export const PROG_TYPE = {
  UNSPEC: 0,
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
} as const;
