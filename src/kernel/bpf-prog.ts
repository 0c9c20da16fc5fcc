/**
 * Just enough of BPF programs for maps: PROG_ARRAY values are program fds on
 * update and program ids on lookup, so restoring one needs programs to
 * point at (and tests need a program to put in one).
 */
import { BpfAttr, bpfLoadWithLog, type LogOptions } from "./bpf-attr.js";
import { BPF_CMD, BPF_OBJ_NAME_LEN } from "./bpf-constants.js";
import { getFdById, getNextId } from "./bpf-map.js";
import { cString } from "./libc.js";

// BPF_PROG_LOAD in union bpf_attr.
const LOAD = {
  progType: 0,
  insnCnt: 4,
  insns: 8,
  license: 16,
  logLevel: 24,
  logSize: 28,
  logBuf: 32,
  kernVersion: 40,
  progFlags: 44,
  progName: 48,
  progIfindex: 64,
  expectedAttachType: 68,
} as const;

const BPF_INSN_SIZE = 8;

const loadAttr = new BpfAttr();

/** `r0 = 0; exit`: the smallest valid program (a socket filter that drops everything). */
export const RETURN_ZERO_INSNS: Uint8Array = Uint8Array.from([
  0xb7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // BPF_ALU64 | BPF_MOV | BPF_K, dst r0, imm 0
  0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // BPF_JMP | BPF_EXIT
]);

export interface ProgLoadOptions extends LogOptions {
  progType: number;
  /** struct bpf_insn array, 8 bytes per instruction. */
  insns: Uint8Array;
  license?: string;
  name?: string;
  progFlags?: number;
  expectedAttachType?: number;
}

/** BPF_PROG_LOAD → program fd. Failures carry the verifier log (BpfLogError). */
export function progLoad(o: ProgLoadOptions): number {
  if (o.insns.byteLength % BPF_INSN_SIZE !== 0) throw new TypeError("insns must be a whole number of 8-byte instructions");
  const license = cString(o.license ?? "GPL");
  return bpfLoadWithLog(
    BPF_CMD.PROG_LOAD,
    loadAttr,
    o,
    (a, log, level) => {
      a.setU32(LOAD.progType, o.progType);
      a.setU32(LOAD.insnCnt, o.insns.byteLength / BPF_INSN_SIZE);
      a.setPtr(LOAD.insns, o.insns);
      a.setPtr(LOAD.license, license);
      a.setU32(LOAD.logLevel, level);
      a.setU32(LOAD.logSize, log ? log.byteLength : 0);
      a.setPtr(LOAD.logBuf, log);
      a.setU32(LOAD.progFlags, o.progFlags ?? 0);
      if (o.name) a.setName(LOAD.progName, BPF_OBJ_NAME_LEN, o.name);
      a.setU32(LOAD.expectedAttachType, o.expectedAttachType ?? 0);
    },
    o.name ? `program "${o.name}"` : `program type ${o.progType}`,
  );
}

export function progGetFdById(id: number): number {
  return getFdById(BPF_CMD.PROG_GET_FD_BY_ID, id);
}

export function progGetNextId(startId: number): number | null {
  return getNextId(BPF_CMD.PROG_GET_NEXT_ID, startId);
}
