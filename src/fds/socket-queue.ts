/**
 * A unix socket's receive queue, saved without taking anything out of it,
 * as CRIU 4.2's dump_sk_queue (sk-queue.c) walks it: SO_PEEK_OFF set to 0
 * makes every MSG_PEEK read advance a peek offset, so successive peeks walk
 * the queue — one datagram per read for DGRAM/SEQPACKET, and for STREAM as
 * many bytes as one read takes (the kernel joins consecutive writes into one
 * read, which is why CRIU's image holds one 27-byte entry for two writes).
 * Reads use a buffer of SO_SNDBUF - 32 bytes, like CRIU, so the entries are
 * split where CRIU's are. The original peek offset is put back afterwards,
 * whatever happens.
 *
 * Each read becomes one sk_packet_entry {id_for, length} followed by its
 * bytes in sk-queues.img. Everything is read before anything is written, so
 * a refusal leaves no partial queue in the image.
 */
import type { DumpContext } from "../contract/dump-context.js";
import type { SkPacketEntry } from "../images/schema/types.js";
import { SyscallError, close, stableBuffer } from "../kernel/index.js";
import type { TaskFd } from "../contract/fd-kind.js";
import { toMessage } from "./message.js";
import { MSG_CMSG_CLOEXEC, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, SCM_RIGHTS, SOL_SOCKET, SO_PEEK_OFF, SO_SNDBUF } from "./sock-diag/constants.js";
import { getsockoptInt, recvmsg, setsockoptInt } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

const EAGAIN = 11;
/** CRIU's CMSG_MAX_SIZE: room for the control messages of one read. */
const CMSG_MAX_SIZE = 1024;

/**
 * Peeks the whole receive queue of socket `lfd`. Throws NotSupportedError
 * for what CRIU cannot save either: a datagram larger than the read buffer,
 * and control messages (passed fds, or credentials when SO_PASSCRED is on).
 */
export function peekQueue(fd: TaskFd, lfd: number, kind: string): Uint8Array[] {
  const origPeekOff = getsockoptInt(lfd, SOL_SOCKET, SO_PEEK_OFF);
  // "Note: 32 bytes will be used by kernel for protocol header." (CRIU)
  const size = getsockoptInt(lfd, SOL_SOCKET, SO_SNDBUF) - 32;
  const buf = stableBuffer(Math.max(size, 1));
  const packets: Uint8Array[] = [];
  setsockoptInt(lfd, SOL_SOCKET, SO_PEEK_OFF, 0);
  try {
    for (;;) {
      const r = recvmsg(lfd, buf, MSG_DONTWAIT | MSG_PEEK | MSG_CMSG_CLOEXEC, CMSG_MAX_SIZE);
      if (r === -EAGAIN) break; // the end of the queue
      if (typeof r === "number") throw new SyscallError({ syscall: "recvmsg", errno: -r, detail: `peeking at the queue of pid ${fd.pid} fd ${fd.fd}` });
      // A read of 0 bytes: the peer shut down (or an empty datagram), where CRIU stops too.
      if (r.length === 0) break;
      if (r.flags & MSG_TRUNC) throw unsupported(fd, kind, `a queued datagram is larger than the ${size}-byte read buffer`);
      if (r.control.length > 0) {
        const rights = r.control.filter((c) => c.level === SOL_SOCKET && c.type === SCM_RIGHTS);
        for (const c of rights) closePassedFds(c.data);
        throw unsupported(fd, kind, rights.length > 0
          ? "a queued message carries file descriptors (SCM_RIGHTS), which crtool cannot dump"
          : "queued messages carry control messages (credentials or security labels), which CRIU's image cannot hold");
      }
      packets.push(Uint8Array.from(buf.subarray(0, r.length)));
    }
  } finally {
    setsockoptInt(lfd, SOL_SOCKET, SO_PEEK_OFF, origPeekOff);
  }
  return packets;
}

/** Peeking installs passed fds in crtool's own table: close them again. */
function closePassedFds(data: Buffer): void {
  for (let i = 0; i + 4 <= data.length; i += 4) {
    try {
      close(data.readInt32LE(i));
    } catch {
      /* already gone */
    }
  }
}

/** Appends the queue of the socket with file id `id` to sk-queues.img. */
export function writeQueue(ctx: DumpContext, id: number, packets: readonly Uint8Array[]): void {
  if (packets.length === 0) return;
  const image = ctx.image("sk-queues.img", "SK_QUEUES");
  for (const bytes of packets) {
    const entry: SkPacketEntry = { id_for: id, length: bytes.length };
    image.append(toMessage(entry), bytes);
  }
}
