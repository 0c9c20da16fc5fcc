/**
 * The socket system calls the socket kinds use: socket, sendmsg/recvmsg (netlink requests, peeking at queues,
 * refilling them), getsockopt/setsockopt, getsockname/getpeername, setns (to
 * ask sock_diag inside a socket's own network namespace), ppoll and getxattr
 * (a socket's protocol name), socketpair and shutdown (restoring pairs).
 *
 * Buffers the kernel reads or writes are stableBuffer()s: their addresses go
 * into other structures (msghdr, iovec) and must not move.
 */
import { addressOf, check, rawSyscall, rawSyscall6, stableBuffer, syscallNumbers } from "./libc.js";
import { NotSupportedError, errnoNumber } from "./errors.js";

const ENODATA = errnoNumber("ENODATA");
const EOPNOTSUPP = errnoNumber("EOPNOTSUPP");
const ENOTCONN = errnoNumber("ENOTCONN");

const nr = syscallNumbers;

/** socket(2); returns the new fd. */
export function socket(domain: number, type: number, protocol: number): number {
  return check(rawSyscall(nr().socket, domain, type, protocol), "socket", `domain ${domain}, type ${type}, protocol ${protocol}`);
}

/** socketpair(2); returns the two connected ends ([sv[0], sv[1]]). */
export function socketpair(domain: number, type: number, protocol = 0): [number, number] {
  const sv = stableBuffer(8);
  check(rawSyscall6(nr().socketpair, domain, type, protocol, addressOf(sv)), "socketpair", `domain ${domain}, type ${type}, protocol ${protocol}`);
  return [sv.readInt32LE(0), sv.readInt32LE(4)];
}

/** shutdown(2); `how` is SHUT_RD (0), SHUT_WR (1) or SHUT_RDWR (2). */
export function shutdown(fd: number, how: number): void {
  check(rawSyscall(nr().shutdown, fd, how), "shutdown", `fd ${fd}, how ${how}`);
}

/** bind(2) to a raw sockaddr. */
export function bind(fd: number, addr: Uint8Array): void {
  const a = copyStable(addr);
  check(rawSyscall(nr().bind, fd, addressOf(a), a.length), "bind", `fd ${fd}`);
}

/** getsockopt(2) into a buffer of `size` bytes: the kernel's answer, cut to the length it reports. */
export function getsockopt(fd: number, level: number, name: number, size: number): Buffer {
  const val = stableBuffer(Math.max(size, 1));
  const len = getsockoptInto(fd, level, name, val, size);
  return val.subarray(0, Math.min(len, size));
}

/**
 * getsockopt(2) with a caller's buffer and optlen (SO_GET_FILTER counts
 * optlen in instructions, not bytes; optlen 0 with no buffer asks for the
 * count). Returns the optlen the kernel wrote back.
 */
export function getsockoptInto(fd: number, level: number, name: number, buf: Buffer | undefined, optlen: number): number {
  const len = stableBuffer(4);
  len.writeUInt32LE(optlen, 0);
  const r = rawSyscall6(nr().getsockopt, fd, level, name, buf ? addressOf(buf) : 0, addressOf(len));
  check(r, "getsockopt", `fd ${fd}, level ${level}, option ${name}`);
  return len.readUInt32LE(0);
}

/** An int option, as CRIU's dump_opt reads it (the kernel must answer exactly 4 bytes). */
export function getsockoptInt(fd: number, level: number, name: number): number {
  const b = getsockopt(fd, level, name, 4);
  if (b.length !== 4) throw new NotSupportedError(`getsockopt(fd ${fd}, level ${level}, option ${name}) answered ${b.length} bytes, not 4`);
  return b.readInt32LE(0);
}

export function setsockopt(fd: number, level: number, name: number, value: Uint8Array): void {
  const v = copyStable(value);
  check(rawSyscall6(nr().setsockopt, fd, level, name, addressOf(v), v.length), "setsockopt", `fd ${fd}, level ${level}, option ${name}`);
}

export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const v = stableBuffer(4);
  v.writeInt32LE(value, 0);
  setsockopt(fd, level, name, v);
}

/** getsockname(2)/getpeername(2): the raw sockaddr, or undefined for ENOTCONN. */
export function sockName(fd: number, peer: boolean): Buffer | undefined {
  const addr = stableBuffer(128); // sizeof(struct sockaddr_storage)
  const len = stableBuffer(4);
  len.writeUInt32LE(addr.length, 0);
  const call = peer ? "getpeername" : "getsockname";
  const r = rawSyscall(nr()[call], fd, addressOf(addr), addressOf(len));
  if (r === -ENOTCONN) return undefined;
  check(r, call, `fd ${fd}`);
  return addr.subarray(0, Math.min(len.readUInt32LE(0), addr.length));
}

/** What recvmsg produced: the byte count, msg_flags, and the control messages. */
export interface Received {
  length: number;
  flags: number;
  control: ControlMessage[];
}

export interface ControlMessage {
  level: number;
  type: number;
  data: Buffer;
}

/** sendmsg(2) of one buffer to `name` (a raw sockaddr); returns the bytes sent. */
export function sendmsg(fd: number, data: Uint8Array, name?: Uint8Array, flags = 0): number {
  const d = copyStable(data);
  const n = name ? copyStable(name) : undefined;
  const msg = new MsgHdr(d, d.length, n, 0);
  const r = rawSyscall(nr().sendmsg, fd, msg.address, flags);
  msg.release(); // the header (and the buffers it holds) stays reachable until the kernel is done with it
  return check(r, "sendmsg", `fd ${fd}`);
}

/**
 * recvmsg(2) into `buf` (a stableBuffer: its address goes into an iovec)
 * with room for `controlSize` bytes of control messages. Returns -errno
 * instead of throwing (EAGAIN ends a queue walk).
 */
export function recvmsg(fd: number, buf: Buffer, flags: number, controlSize = 0): Received | number {
  const msg = new MsgHdr(buf, buf.length, undefined, controlSize);
  const r = rawSyscall(nr().recvmsg, fd, msg.address, flags);
  msg.release();
  if (r < 0) return r;
  return { length: r, flags: msg.flags, control: msg.controlMessages() };
}

/** setns(2) with an fd of a namespace file. */
export function setns(fd: number, nstype: number): void {
  check(rawSyscall(nr().setns, fd, nstype), "setns", `fd ${fd}`);
}

/** ppoll(2) on one fd with a zero timeout: the revents, 0 when nothing is ready. */
export function pollNow(fd: number, events: number): number {
  // struct pollfd { int fd; short events; short revents; }
  const pfd = stableBuffer(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(events, 4);
  const ts = stableBuffer(16); // struct timespec {0, 0}
  check(rawSyscall6(nr().ppoll, addressOf(pfd), 1, addressOf(ts), 0, 8), "ppoll", `fd ${fd}`);
  return pfd.readUInt16LE(6);
}

/** getxattr(2) of a path (following links); undefined when the file has no such attribute. */
export function getxattr(path: string, name: string): Buffer | undefined {
  const p = cstr(path);
  const n = cstr(name);
  const value = stableBuffer(256);
  const r = rawSyscall6(nr().getxattr, addressOf(p), addressOf(n), addressOf(value), value.length);
  if (r === -ENODATA || r === -EOPNOTSUPP) return undefined;
  check(r, "getxattr", `${path} ${name}`);
  return value.subarray(0, r);
}

function cstr(s: string): Buffer {
  const b = Buffer.from(s, "utf8");
  const out = stableBuffer(b.length + 1);
  out.set(b);
  return out;
}

function copyStable(bytes: Uint8Array): Buffer {
  const out = stableBuffer(bytes.length);
  out.set(bytes);
  return out;
}

/**
 * struct msghdr with one iovec (LP64 layout, the same on x86_64 and
 * aarch64): msg_name 0, msg_namelen 8, msg_iov 16, msg_iovlen 24,
 * msg_control 32, msg_controllen 40, msg_flags 48.
 */
class MsgHdr {
  private readonly hdr = stableBuffer(56);
  private readonly iov = stableBuffer(16);
  private readonly control: Buffer;

  constructor(private readonly data: Buffer, length: number, private readonly name: Buffer | undefined, controlSize: number) {
    this.control = stableBuffer(controlSize);
    this.iov.writeBigUInt64LE(BigInt(addressOf(data)), 0);
    this.iov.writeBigUInt64LE(BigInt(length), 8);
    if (name) {
      this.hdr.writeBigUInt64LE(BigInt(addressOf(name)), 0);
      this.hdr.writeUInt32LE(name.length, 8);
    }
    this.hdr.writeBigUInt64LE(BigInt(addressOf(this.iov)), 16);
    this.hdr.writeBigUInt64LE(1n, 24);
    if (controlSize > 0) {
      this.hdr.writeBigUInt64LE(BigInt(addressOf(this.control)), 32);
      this.hdr.writeBigUInt64LE(BigInt(controlSize), 40);
    }
  }

  /** A use after the system call, so nothing the kernel was pointed at is collected before it returns. */
  release(): void {
    for (const b of [this.hdr, this.iov, this.control, this.data, this.name]) void b?.length;
  }

  get address(): number {
    return addressOf(this.hdr);
  }

  get flags(): number {
    return this.hdr.readInt32LE(48);
  }

  /** The control messages the kernel wrote (struct cmsghdr {size_t len; int level; int type;} + data, 8-aligned). */
  controlMessages(): ControlMessage[] {
    const used = Number(this.hdr.readBigUInt64LE(40));
    const out: ControlMessage[] = [];
    for (let off = 0; off + 16 <= used; ) {
      const len = Number(this.control.readBigUInt64LE(off));
      if (len < 16 || off + len > used) break;
      out.push({ level: this.control.readInt32LE(off + 8), type: this.control.readInt32LE(off + 12), data: Buffer.from(this.control.subarray(off + 16, off + len)) });
      off += (len + 7) & ~7;
    }
    return out;
  }
}
