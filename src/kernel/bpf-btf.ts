/**
 * BTF objects: load a blob (BPF_BTF_LOAD), open one by id, and read its
 * info and raw bytes back (BPF_OBJ_GET_INFO_BY_FD), which is how a map's key
 * and value types are carried across a checkpoint.
 */
import { BpfAttr, bpfLoadWithLog, type LogOptions } from "./bpf-attr.js";
import { BPF_CMD } from "./bpf-constants.js";
import { objGetInfo } from "./bpf-info.js";
import { getFdById, getNextId } from "./bpf-map.js";
import { addressOf, close, stableBuffer } from "./libc.js";

// BPF_BTF_LOAD in union bpf_attr.
const LOAD = { btf: 0, logBuf: 8, btfSize: 16, logSize: 20, logLevel: 24, logTrueSize: 28, btfFlags: 32, tokenFd: 36 } as const;
// struct bpf_btf_info.
const INFO = { btf: 0, btfSize: 8, id: 12, name: 16, nameLen: 24, kernelBtf: 28 } as const;
const INFO_SIZE = 32;
/** Module names are at most 56 bytes; room to spare. */
const NAME_SIZE = 128;

const loadAttr = new BpfAttr();

export interface BtfLoadOptions extends LogOptions {
  /** BPF_F_TOKEN_FD with tokenFd. */
  flags?: number;
  tokenFd?: number;
}

/**
 * A minimal BTF blob: one INT type per entry (ids 1, 2...), unsigned, as
 * many bits as bytes × 8. Enough for BPF_BTF_LOAD and for a map's key and
 * value type ids (probes, tests).
 */
export function intTypesBtf(ints: readonly { name: string; size: number }[]): Buffer {
  const names: Buffer[] = [Buffer.from([0])];
  const types = Buffer.alloc(16 * ints.length);
  let nameOff = 1;
  ints.forEach(({ name, size }, i) => {
    types.writeUInt32LE(nameOff, i * 16);
    types.writeUInt32LE(1 << 24, i * 16 + 4); // BTF_KIND_INT, vlen 0
    types.writeUInt32LE(size, i * 16 + 8);
    types.writeUInt32LE(size * 8, i * 16 + 12); // encoding 0, offset 0, bits
    names.push(Buffer.from(`${name}\0`, "latin1"));
    nameOff += name.length + 1;
  });
  const strings = Buffer.concat(names);
  const hdr = Buffer.alloc(24);
  hdr.writeUInt16LE(0xeb9f, 0); // magic
  hdr.writeUInt8(1, 2); // version
  hdr.writeUInt32LE(24, 4); // header length; type section at 0
  hdr.writeUInt32LE(types.length, 12);
  hdr.writeUInt32LE(types.length, 16); // string section right after the types
  hdr.writeUInt32LE(strings.length, 20);
  return Buffer.concat([hdr, types, strings]);
}

/** BPF_BTF_LOAD: a BTF blob (header, types, strings) → BTF object fd. */
export function btfLoad(data: Uint8Array, opts: BtfLoadOptions = {}): number {
  return bpfLoadWithLog(
    BPF_CMD.BTF_LOAD,
    loadAttr,
    opts,
    (a, log, level) => {
      a.setPtr(LOAD.btf, data);
      a.setU32(LOAD.btfSize, data.byteLength);
      a.setPtr(LOAD.logBuf, log);
      a.setU32(LOAD.logSize, log ? log.byteLength : 0);
      a.setU32(LOAD.logLevel, level);
      a.setU32(LOAD.btfFlags, opts.flags ?? 0);
      a.setU32(LOAD.tokenFd, opts.tokenFd ?? 0);
    },
    `${data.byteLength}-byte BTF`,
  );
}

export function btfGetFdById(id: number): number {
  return getFdById(BPF_CMD.BTF_GET_FD_BY_ID, id);
}

export function btfGetNextId(startId: number): number | null {
  return getNextId(BPF_CMD.BTF_GET_NEXT_ID, startId);
}

export interface BtfInfo {
  id: number;
  /** Size of the raw BTF blob. */
  btfSize: number;
  /** "vmlinux" or a module name for kernel BTF; "" for BTF loaded by a program. */
  name: string;
  kernelBtf: boolean;
}

export function btfGetInfo(fd: number): BtfInfo {
  return readInfo(fd, null).info;
}

/** The raw BTF blob of a BTF object, as BTF_LOAD would accept it. */
export function btfGetData(fd: number): Uint8Array {
  const { info } = readInfo(fd, null);
  const data = stableBuffer(info.btfSize);
  const second = readInfo(fd, data);
  // The blob cannot change, but a short read would mean another object behind the fd.
  return new Uint8Array(data.buffer, data.byteOffset, Math.min(second.info.btfSize, data.byteLength));
}

function readInfo(fd: number, data: Buffer | null): { info: BtfInfo } {
  const buf = stableBuffer(INFO_SIZE);
  const name = stableBuffer(NAME_SIZE);
  buf.writeBigUInt64LE(BigInt(data ? addressOf(data) : 0), INFO.btf);
  buf.writeUInt32LE(data ? data.byteLength : 0, INFO.btfSize);
  buf.writeBigUInt64LE(BigInt(addressOf(name)), INFO.name);
  buf.writeUInt32LE(NAME_SIZE, INFO.nameLen);
  objGetInfo(fd, buf, `BTF fd ${fd}`);
  const nameLen = buf.readUInt32LE(INFO.nameLen);
  const nul = name.indexOf(0);
  return {
    info: {
      id: buf.readUInt32LE(INFO.id),
      btfSize: buf.readUInt32LE(INFO.btfSize),
      name: name.toString("utf8", 0, Math.min(nul < 0 ? NAME_SIZE : nul, nameLen)),
      kernelBtf: buf.readUInt32LE(INFO.kernelBtf) !== 0,
    },
  };
}

/** An fd of this machine's kernel BTF object named `name` ("vmlinux" or a module); undefined when there is none. */
export function findKernelBtf(name: string): number | undefined {
  for (let id = btfGetNextId(0); id !== null; id = btfGetNextId(id)) {
    let fd: number;
    try {
      fd = btfGetFdById(id);
    } catch {
      // Freed meanwhile.
      continue;
    }
    const info = btfGetInfo(fd);
    if (info.kernelBtf && info.name === name) return fd;
    close(fd);
  }
  return undefined;
}
