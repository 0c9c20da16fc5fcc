/**
 * union bpf_attr as a reusable, off-heap Buffer, and the bpf(2) call itself.
 *
 * Fields are written through a Uint32Array view, i.e. in the machine's byte
 * order, which is what the kernel reads. 64-bit fields are two 32-bit halves
 * so pointers (JS numbers, always < 2^53) never go through BigInt.
 *
 * Each command family keeps its own BpfAttr and rewrites every field it uses
 * on each call, so the hot paths neither allocate nor clear.
 */
import { BpfLogError, SyscallError } from "./errors.js";
import { addressOf, rawSyscall, rawSyscallAsync, stableBuffer, syscallNumbers } from "./libc.js";
import { bpfCmdName } from "./bpf-constants.js";

/** sizeof(union bpf_attr) in the 6.1 headers; every command crtool uses fits. */
export const BPF_ATTR_SIZE = 144;

const TWO_32 = 0x1_0000_0000;

export class BpfAttr {
  readonly buf: Buffer;
  /** Address of buf, cached: the bytes live off the V8 heap and never move. */
  readonly address: number;
  private readonly words: Uint32Array;

  constructor(readonly size = BPF_ATTR_SIZE) {
    this.buf = stableBuffer(size);
    this.address = addressOf(this.buf);
    this.words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, size >>> 2);
  }

  clear(): this {
    this.words.fill(0);
    return this;
  }

  u32(offset: number): number {
    return this.words[offset >>> 2];
  }

  setU32(offset: number, value: number): this {
    this.words[offset >>> 2] = value;
    return this;
  }

  /** A u64 field from a number (must be a safe integer) or a bigint. */
  setU64(offset: number, value: number | bigint): this {
    if (typeof value === "bigint") {
      const v = BigInt.asUintN(64, value);
      this.words[offset >>> 2] = Number(v & 0xffff_ffffn);
      this.words[(offset >>> 2) + 1] = Number(v >> 32n);
    } else {
      this.words[offset >>> 2] = value >>> 0;
      this.words[(offset >>> 2) + 1] = Math.floor(value / TWO_32) >>> 0;
    }
    return this;
  }

  u64(offset: number): bigint {
    return (BigInt(this.words[(offset >>> 2) + 1]) << 32n) | BigInt(this.words[offset >>> 2]);
  }

  /** A pointer field: the address of `buf`, or NULL for null / an empty view. */
  setPtr(offset: number, buf: Uint8Array | null): this {
    return this.setU64(offset, buf === null ? 0 : addressOf(buf));
  }

  /** A fixed-size char array (map_name, prog_name): NUL-padded, at most size-1 bytes. */
  setName(offset: number, size: number, name: string): this {
    const bytes = Buffer.from(name, "utf8");
    if (bytes.length >= size) throw new TypeError(`name "${name}" is longer than ${size - 1} bytes`);
    this.buf.fill(0, offset, offset + size);
    this.buf.set(bytes, offset);
    return this;
  }
}

let bpfNr = -1;

function nr(): number {
  if (bpfNr < 0) bpfNr = syscallNumbers().bpf;
  return bpfNr;
}

/** bpf(cmd, attr): the result, or -errno. For paths where an errno is an answer (ENOENT). */
export function bpfRaw(cmd: number, attr: BpfAttr): number {
  return rawSyscall(nr(), cmd, attr.address, attr.size);
}

/** bpf(cmd, attr) on a worker thread; the result, or -errno. */
export function bpfRawAsync(cmd: number, attr: BpfAttr): Promise<number> {
  return rawSyscallAsync(nr(), cmd, attr.address, attr.size);
}

/** bpf(cmd, attr): the result; throws SyscallError "bpf(BPF_...): ... (EXXX)". */
export function bpf(cmd: number, attr: BpfAttr, detail?: string): number {
  const r = bpfRaw(cmd, attr);
  if (r < 0) throw bpfError(cmd, -r, detail);
  return r;
}

export function bpfError(cmd: number, errno: number, detail?: string): SyscallError {
  return new SyscallError({ syscall: "bpf", operation: bpfCmdName(cmd), errno, detail });
}

/** Default verifier/BTF log size when a load fails and is retried for its log. */
export const DEFAULT_LOG_SIZE = 1 << 16;

export interface LogOptions {
  /** 0 (default): load without a log and, only on failure, load again with level 1 to explain it. */
  logLevel?: number;
  logSize?: number;
}

/**
 * Runs a BTF_LOAD / PROG_LOAD. `fill` writes the command's attr with the log
 * buffer (or null) and level. Failures throw BpfLogError with the kernel's log.
 */
export function bpfLoadWithLog(
  cmd: number,
  attr: BpfAttr,
  opts: LogOptions,
  fill: (attr: BpfAttr, log: Buffer | null, level: number) => void,
  detail?: string,
): number {
  const level = opts.logLevel ?? 0;
  const log = level > 0 ? stableBuffer(opts.logSize ?? DEFAULT_LOG_SIZE) : null;
  fill(attr.clear(), log, level);
  const r = bpfRaw(cmd, attr);
  if (r >= 0) return r;
  let text = log ? cText(log) : "";
  if (!log) {
    // Second attempt only to learn why; its own result is not used.
    const retryLog = stableBuffer(opts.logSize ?? DEFAULT_LOG_SIZE);
    fill(attr.clear(), retryLog, 1);
    const again = bpfRaw(cmd, attr);
    if (again >= 0) rawSyscall(syscallNumbers().close, again);
    text = cText(retryLog);
  }
  if (!text) throw bpfError(cmd, -r, detail);
  throw new BpfLogError({ syscall: "bpf", operation: bpfCmdName(cmd), errno: -r, detail, log: text });
}

function cText(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString("utf8", 0, end < 0 ? buf.length : end);
}
