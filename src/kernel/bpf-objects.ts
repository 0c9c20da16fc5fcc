/**
 * What the kernel says about BPF objects that are not maps: programs
 * (struct bpf_prog_info), links (the head of struct bpf_link_info; the
 * type-specific rest is read from fdinfo, which prints it by name) and, for
 * a perf event or raw tracepoint fd of a process, what it is attached to
 * (BPF_TASK_FD_QUERY).
 */
import { BpfAttr, bpf } from "./bpf-attr.js";
import { BPF_CMD } from "./bpf-constants.js";
import { objGetInfo } from "./bpf-info.js";
import { addressOf, stableBuffer } from "./libc.js";

// struct bpf_prog_info (232 bytes in 6.18).
const PROG = {
  type: 0,
  id: 4,
  tag: 8,
  jitedProgLen: 16,
  xlatedProgLen: 20,
  loadTime: 40,
  createdByUid: 48,
  nrMapIds: 52,
  mapIds: 56,
  name: 64,
  ifindex: 80,
  gplCompatible: 84,
  netnsDev: 88,
  netnsIno: 96,
  btfId: 128,
  runTimeNs: 192,
  runCnt: 200,
  recursionMisses: 208,
  verifiedInsns: 216,
  attachBtfObjId: 220,
  attachBtfId: 224,
} as const;
const PROG_INFO_SIZE = 232;
const NAME_LEN = 16;

export interface ProgInfo {
  type: number;
  id: number;
  /** The program's tag (a hash of its instructions), 8 bytes. */
  tag: Uint8Array;
  jitedProgLen: number;
  xlatedProgLen: number;
  /** Nanoseconds since boot when it was loaded. */
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  name: string;
  ifindex: number;
  gplCompatible: boolean;
  netnsDev: bigint;
  netnsIno: bigint;
  btfId: number;
  runTimeNs: bigint;
  runCnt: bigint;
  recursionMisses: bigint;
  verifiedInsns: number;
  attachBtfObjId: number;
  attachBtfId: number;
}


/** BPF_OBJ_GET_INFO_BY_FD on a program fd, with the ids of the maps it uses. */
export function progGetInfo(fd: number): ProgInfo {
  let room = 64;
  for (;;) {
    const buf = stableBuffer(PROG_INFO_SIZE);
    const ids = stableBuffer(room * 4);
    buf.writeUInt32LE(room, PROG.nrMapIds);
    buf.writeBigUInt64LE(BigInt(addressOf(ids)), PROG.mapIds);
    objGetInfo(fd, buf, `program fd ${fd}`);
    const n = buf.readUInt32LE(PROG.nrMapIds);
    // The kernel says how many there are; ask again with room for all of them.
    if (n > room) {
      room = n;
      continue;
    }
    const nameEnd = buf.indexOf(0, PROG.name);
    return {
      type: buf.readUInt32LE(PROG.type),
      id: buf.readUInt32LE(PROG.id),
      tag: Uint8Array.from(buf.subarray(PROG.tag, PROG.tag + 8)),
      jitedProgLen: buf.readUInt32LE(PROG.jitedProgLen),
      xlatedProgLen: buf.readUInt32LE(PROG.xlatedProgLen),
      loadTime: buf.readBigUInt64LE(PROG.loadTime),
      createdByUid: buf.readUInt32LE(PROG.createdByUid),
      mapIds: Array.from({ length: n }, (_, i) => ids.readUInt32LE(i * 4)),
      name: buf.toString("utf8", PROG.name, nameEnd < 0 || nameEnd > PROG.name + NAME_LEN ? PROG.name + NAME_LEN : nameEnd),
      ifindex: buf.readUInt32LE(PROG.ifindex),
      gplCompatible: (buf.readUInt32LE(PROG.gplCompatible) & 1) !== 0,
      netnsDev: buf.readBigUInt64LE(PROG.netnsDev),
      netnsIno: buf.readBigUInt64LE(PROG.netnsIno),
      btfId: buf.readUInt32LE(PROG.btfId),
      runTimeNs: buf.readBigUInt64LE(PROG.runTimeNs),
      runCnt: buf.readBigUInt64LE(PROG.runCnt),
      recursionMisses: buf.readBigUInt64LE(PROG.recursionMisses),
      verifiedInsns: buf.readUInt32LE(PROG.verifiedInsns),
      attachBtfObjId: buf.readUInt32LE(PROG.attachBtfObjId),
      attachBtfId: buf.readUInt32LE(PROG.attachBtfId),
    };
  }
}

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
}

/** The common head of struct bpf_link_info (the rest depends on the type; fdinfo prints it). */
export function linkGetInfo(fd: number): LinkInfo {
  // Room for the largest union member: the kernel only fills what the type has.
  const buf = stableBuffer(256);
  objGetInfo(fd, buf, `link fd ${fd}`);
  return { type: buf.readUInt32LE(0), id: buf.readUInt32LE(4), progId: buf.readUInt32LE(8) };
}

// BPF_TASK_FD_QUERY in union bpf_attr.
const QUERY = { pid: 0, fd: 4, flags: 8, bufLen: 12, buf: 16, progId: 24, fdType: 28, probeOffset: 32, probeAddr: 40 } as const;
const queryAttr = new BpfAttr();
const PATH_MAX = 4096;

export interface TaskFdQuery {
  progId: number;
  /** enum bpf_task_fd_type (taskFdTypeLabel). */
  fdType: number;
  /** The tracepoint, kernel function or file name. */
  name: string;
  probeOffset: bigint;
  probeAddr: bigint;
}

/**
 * What fd `fd` of process `pid` (a perf event or raw tracepoint with a BPF
 * program) is attached to. Throws a SyscallError (ENOENT, ENOTSUPP...) when
 * no program is attached to it.
 */
export function taskFdQuery(pid: number, fd: number): TaskFdQuery {
  const name = stableBuffer(PATH_MAX);
  const a = queryAttr.clear();
  a.setU32(QUERY.pid, pid);
  a.setU32(QUERY.fd, fd);
  a.setU32(QUERY.bufLen, name.byteLength);
  a.setPtr(QUERY.buf, name);
  bpf(BPF_CMD.TASK_FD_QUERY, a, `fd ${fd} of process ${pid}`);
  const nul = name.indexOf(0);
  return {
    progId: a.u32(QUERY.progId),
    fdType: a.u32(QUERY.fdType),
    name: name.toString("utf8", 0, nul < 0 ? Math.min(a.u32(QUERY.bufLen), name.byteLength) : nul),
    probeOffset: a.u64(QUERY.probeOffset),
    probeAddr: a.u64(QUERY.probeAddr),
  };
}
