/**
 * Putting a restored socket's sk_opts_entry back, as CRIU 4.2's
 * restore_socket_opts (sockets.c) does, on crtool's own fd of a new socket:
 *
 * - SO_SNDBUF/SO_RCVBUF: the kernel doubles what it is given and reports
 *   the doubled value, which is what the image holds; so half of it is set
 *   (SO_*BUFFORCE first, which can go beyond net.core.[wr]mem_max, then the
 *   plain option when crtool lacks CAP_NET_ADMIN). Setting them locks the
 *   sizes, so SO_BUF_LOCK is then set to what was recorded (Linux 5.14+).
 * - Every other recorded option is set only when the new socket's value
 *   differs (a fresh socket already has the defaults, and some options, such
 *   as SO_REUSEPORT on a unix socket, cannot even be set to their default
 *   on recent kernels).
 * - Options that cannot be set (SO_MARK or SO_BINDTODEVICE without the
 *   capability, a device that does not exist here) are lost when the user
 *   asked to skip what cannot be restored, and refuse the file otherwise.
 *
 * Not in the image, so not restored: SO_PEEK_OFF (a new socket has it off)
 * and the TCP/IP options (not used by unix sockets).
 */
import type { RestoreContext } from "../contract/restore-context.js";
import type { SkOptsEntry } from "../images/schema/types.js";
import { InvalidUtf8 } from "../images/wire/message.js";
import { SyscallError, addressOf, isErrno, stableBuffer } from "../kernel/index.js";
import { loseOrThrowOnRestore } from "./restore-errors.js";
import {
  SOL_SOCKET, SO_BINDTODEVICE, SO_BROADCAST, SO_BUF_LOCK, SO_DONTROUTE, SO_KEEPALIVE, SO_LINGER, SO_MARK, SO_NO_CHECK,
  SO_OOBINLINE, SO_PASSCRED, SO_PASSSEC, SO_PRIORITY, SO_RCVBUF, SO_RCVLOWAT, SO_RCVTIMEO_OLD, SO_REUSEADDR, SO_REUSEPORT,
  SO_SNDBUF, SO_SNDTIMEO_OLD,
} from "./sock-diag/constants.js";
import { getsockopt, getsockoptInt, setsockopt, setsockoptInt } from "../kernel/index.js";

export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
const SO_ATTACH_FILTER = 26;

/** The options that are one int (booleans as 0/1), by sk_opts_entry field. */
const INT_OPTIONS: readonly (readonly [keyof SkOptsEntry, number, string])[] = [
  ["reuseaddr", SO_REUSEADDR, "SO_REUSEADDR"],
  ["so_priority", SO_PRIORITY, "SO_PRIORITY"],
  ["so_rcvlowat", SO_RCVLOWAT, "SO_RCVLOWAT"],
  ["so_mark", SO_MARK, "SO_MARK"],
  ["so_passcred", SO_PASSCRED, "SO_PASSCRED"],
  ["so_passsec", SO_PASSSEC, "SO_PASSSEC"],
  ["so_dontroute", SO_DONTROUTE, "SO_DONTROUTE"],
  ["so_no_check", SO_NO_CHECK, "SO_NO_CHECK"],
  ["so_reuseport", SO_REUSEPORT, "SO_REUSEPORT"],
  ["so_broadcast", SO_BROADCAST, "SO_BROADCAST"],
  ["so_keepalive", SO_KEEPALIVE, "SO_KEEPALIVE"],
  ["so_oobinline", SO_OOBINLINE, "SO_OOBINLINE"],
];

/**
 * Sets one buffer size: `recorded` is the doubled value getsockopt gave,
 * so half of it goes in. FORCE first (root can exceed [wr]mem_max), the
 * plain option when that is not permitted.
 */
export function setBufferSize(fd: number, force: number, plain: number, recorded: number): void {
  const half = Math.min(Math.floor(recorded / 2), 0x7fffffff);
  try {
    setsockoptInt(fd, SOL_SOCKET, force, half);
  } catch (e) {
    if (!isErrno(e, "EPERM")) throw e;
    setsockoptInt(fd, SOL_SOCKET, plain, half);
  }
}

/**
 * Sets the options recorded in `opts` on crtool's socket `fd` (file `id`,
 * described by `what` in messages). A failure to set one is lost with
 * --skip-unsupported (and logged), and refuses the file otherwise.
 */
export function restoreSocketOpts(fd: number, opts: SkOptsEntry | undefined, ctx: RestoreContext, id: number, kind: string, what: string): void {
  if (!opts) return;
  const attempt = (option: string, value: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      loseOrThrowOnRestore(ctx, id, kind, `${what}: cannot set ${option} to ${value} (${e.code}: ${e.reason})`);
    }
  };

  if (opts.so_sndbuf) attempt("SO_SNDBUF", String(opts.so_sndbuf), () => setBufferSize(fd, SO_SNDBUFFORCE, SO_SNDBUF, opts.so_sndbuf));
  if (opts.so_rcvbuf) attempt("SO_RCVBUF", String(opts.so_rcvbuf), () => setBufferSize(fd, SO_RCVBUFFORCE, SO_RCVBUF, opts.so_rcvbuf));
  // Setting the sizes locked them; put the recorded lock back (0: sizes free to change again).
  const bufLock = opts.so_buf_lock;
  if (bufLock !== undefined) {
    attempt("SO_BUF_LOCK", String(bufLock), () => {
      try {
        setsockoptInt(fd, SOL_SOCKET, SO_BUF_LOCK, bufLock);
      } catch (e) {
        // A kernel before 5.14: it has no such option, and a recorded 0 needs nothing.
        if (!(isErrno(e, "ENOPROTOOPT") && bufLock === 0)) throw e;
      }
    });
  }

  for (const [field, name, label] of INT_OPTIONS) {
    const v = opts[field];
    if (v === undefined) continue;
    const want = typeof v === "boolean" ? Number(v) : typeof v === "number" ? v | 0 : undefined;
    if (want === undefined) continue;
    attempt(label, String(v), () => {
      if (getsockoptInt(fd, SOL_SOCKET, name) !== want) setsockoptInt(fd, SOL_SOCKET, name, want);
    });
  }

  for (const [name, label, sec, usec] of [
    [SO_SNDTIMEO_OLD, "SO_SNDTIMEO", opts.so_snd_tmo_sec, opts.so_snd_tmo_usec],
    [SO_RCVTIMEO_OLD, "SO_RCVTIMEO", opts.so_rcv_tmo_sec, opts.so_rcv_tmo_usec],
  ] as const) {
    const s = BigInt(sec ?? 0);
    const u = BigInt(usec ?? 0);
    attempt(label, `${s} s ${u} us`, () => {
      const now = getsockopt(fd, SOL_SOCKET, name, 16);
      if (now.length === 16 && now.readBigInt64LE(0) === s && now.readBigInt64LE(8) === u) return;
      const tv = stableBuffer(16); // struct timeval
      tv.writeBigInt64LE(s, 0);
      tv.writeBigInt64LE(u, 8);
      setsockopt(fd, SOL_SOCKET, name, tv);
    });
  }

  // Recorded only when lingering was on.
  if (opts.so_linger !== undefined) {
    const secs = opts.so_linger;
    attempt("SO_LINGER", `on, ${secs} s`, () => {
      const lg = stableBuffer(8); // struct linger { int l_onoff; int l_linger; }
      lg.writeInt32LE(1, 0);
      lg.writeInt32LE(secs | 0, 4);
      setsockopt(fd, SOL_SOCKET, SO_LINGER, lg);
    });
  }

  const dev = opts.so_bound_dev;
  if (dev !== undefined && !(typeof dev === "string" && dev === "")) {
    const bytes = dev instanceof InvalidUtf8 ? dev.bytes : Buffer.from(dev, "utf8");
    attempt("SO_BINDTODEVICE", JSON.stringify(Buffer.from(bytes).toString()), () => {
      const name = stableBuffer(bytes.length + 1);
      name.set(bytes);
      setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name);
    });
  }

  if (opts.so_filter && opts.so_filter.length > 0) {
    const filter = opts.so_filter;
    attempt("SO_ATTACH_FILTER", `${filter.length} instructions`, () => attachFilter(fd, filter));
  }
}

/**
 * SO_ATTACH_FILTER with the program as CRIU encodes it: one u64 per struct
 * sock_filter {u16 code; u8 jt; u8 jf; u32 k}, code in the top 16 bits.
 */
function attachFilter(fd: number, encoded: readonly bigint[]): void {
  const insns = stableBuffer(encoded.length * 8);
  encoded.forEach((v, i) => {
    const x = BigInt.asUintN(64, BigInt(v));
    insns.writeUInt16LE(Number(x >> 48n), 8 * i);
    insns.writeUInt8(Number((x >> 40n) & 0xffn), 8 * i + 2);
    insns.writeUInt8(Number((x >> 32n) & 0xffn), 8 * i + 3);
    insns.writeUInt32LE(Number(x & 0xffffffffn), 8 * i + 4);
  });
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (LP64: pointer at 8)
  const prog = stableBuffer(16);
  prog.writeUInt16LE(encoded.length, 0);
  prog.writeBigUInt64LE(BigInt(addressOf(insns)), 8);
  setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog);
  void insns.length; // keep the instructions reachable until the kernel has copied them
}
