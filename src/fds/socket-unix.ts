/**
 * UNIXSK: an AF_UNIX socket, as CRIU 4.2's sk-unix.c dump_one_unix_fd
 * writes it. unix_diag (asked for this one inode, in the socket's network
 * namespace) gives type, state, name, peer, queue lengths and shutdown;
 * getsockopt on crtool's duplicate gives the options; fcntl the owner.
 *
 * - backlog is the diag's wqlen, as in CRIU: a listener's backlog, and for
 *   other sockets the write memory their unread messages take at the peer.
 * - name is the bound sun_path as the kernel keeps it: a leading NUL for
 *   abstract names, the trailing NUL for path names.
 * - For a path name, the socket file's mode/uid/gid (file_perms), whether it
 *   was unlinked (deleted), and for a relative name the directory it was
 *   bound in (name_dir), from the file the kernel opens for SIOCUNIXFILE.
 *   mnt_id is written by CRIU only when the tree has its own mount
 *   namespace, which crtool does not dump, so never here.
 * - A connection still waiting in a listener's accept queue has no peer
 *   inode; CRIU points it at the listener (found by its "icons"), and so
 *   does crtool.
 * - The receive queue (unless the socket is listening) goes to
 *   sk-queues.img, peeked without being consumed (socket-queue.ts).
 *
 * Not checked here, unlike CRIU: whether the peer belongs to the dump too
 * (CRIU needs --ext-unix-sk otherwise); crtool sees one fd at a time.
 *
 * Restore (socket-unix-restore.ts) re-creates socketpairs whose both ends
 * are in the restored fd table, queues, shutdown, options, flags and owner
 * included; any other unix socket is refused with a NotSupportedError.
 */
import { closeSync, fstatSync, readlinkSync } from "node:fs";
import type { DumpContext } from "../contract/dump-context.js";
import { type FilePermsEntry, type UnixSkEntry, UnixSkEntrySchema } from "../images/schema/types.js";
import { check } from "../kernel/index.js";
import type { InvalidUtf8 } from "../images/wire/message.js";
import type { RestorableFdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown } from "./fown.js";
import { pathField } from "./link-path.js";
import { fromMessage, toMessage } from "./message.js";
import { fileFlags } from "../kernel/index.js";
import { isSocketOf } from "./socket-family.js";
import { netnsId } from "./socket-netns.js";
import { dumpSocketOpts } from "./socket-opts.js";
import { peekQueue, writeQueue } from "./socket-queue.js";
import { restoreUnixSocket } from "./socket-unix-restore.js";
import { AF_UNIX, SIOCUNIXFILE, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN } from "./sock-diag/constants.js";
import { withDiagSocketFor } from "./sock-diag/netns.js";
import { unixDiagByIno, unixListeners, type UnixDiag } from "./sock-diag/unix-diag.js";
import { ioctlRaw } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

const KIND = "UNIXSK";
/** sk_shutdown: both directions shut. */
const SHUTDOWN_BOTH = 3;

/** The socket and its peer inode as CRIU records it (in-flight connections point at their listener). */
interface UnixState {
  sk: UnixDiag;
  peer: number;
  netnsIno: bigint;
}

function label(sk: UnixDiag): string {
  return `unix socket ${sk.ino}`;
}

/** Looks the socket up and applies CRIU's checks on its state and peer. */
function inspect(fd: TaskFd, lfd: number): UnixState {
  const ino = Number(fd.stat.ino);
  return withDiagSocketFor(lfd, (diag, netnsIno) => {
    const sk = unixDiagByIno(diag, ino);
    if (!sk) throw unsupported(fd, KIND, `unix_diag does not know socket ${ino}`);
    if (sk.type !== SOCK_STREAM && sk.type !== SOCK_DGRAM && sk.type !== SOCK_SEQPACKET) {
      throw unsupported(fd, KIND, `${label(sk)} has type ${sk.type}; only stream, dgram and seqpacket are supported`);
    }
    if (sk.state !== TCP_LISTEN && sk.state !== TCP_ESTABLISHED && sk.state !== TCP_CLOSE) {
      throw unsupported(fd, KIND, `${label(sk)} is in state ${sk.state}`);
    }

    let peer = sk.peer;
    if (peer !== 0) {
      const other = unixDiagByIno(diag, peer);
      if (!other) throw unsupported(fd, KIND, `${label(sk)} has peer ${peer}, which unix_diag does not know`);
      // A peer that is not connected back must be reachable by its name.
      if (other.peer !== ino && other.name === undefined) {
        throw unsupported(fd, KIND, `${label(sk)} has an unreachable peer ${peer} (connected to ${other.peer}, no name)`);
      }
    } else if (sk.state === TCP_ESTABLISHED && sk.type !== SOCK_DGRAM) {
      // Semi-closed: the peer is gone and both directions are shut.
      if (sk.shutdown !== SHUTDOWN_BOTH) {
        const listener = unixListeners(diag).find((l) => l.icons.includes(ino));
        if (!listener) throw unsupported(fd, KIND, `${label(sk)} is a dangling connection (no peer, not shut down)`);
        // Data written to a connection nobody accepted yet cannot be read back.
        if (sk.wqlen !== 0) throw unsupported(fd, KIND, `${label(sk)} is an unaccepted connection with unread data written to it`);
        peer = listener.ino;
      }
    } else if (sk.state === TCP_LISTEN && sk.icons.includes(0)) {
      throw unsupported(fd, KIND, `${label(sk)} has a pending connection whose socket was closed`);
    }
    return { sk, peer, netnsIno };
  });
}

/** What CRIU's unix_resolve_name records for a socket bound to a path. */
interface BoundFile {
  perms: FilePermsEntry;
  deleted: boolean;
  nameDir: string | InvalidUtf8 | undefined;
}

const DELETED = Buffer.from(" (deleted)");

/**
 * The file a path-bound socket is bound to, opened by the kernel for
 * SIOCUNIXFILE: its owner and mode, whether it was unlinked since, and for a
 * relative name the directory its /proc link shows before "/<name>". Paths
 * are compared as bytes, as they may not be UTF-8.
 */
function resolveBoundFile(fd: TaskFd, lfd: number, name: Buffer): BoundFile {
  const file = check(ioctlRaw(lfd, SIOCUNIXFILE, new Uint8Array(0)), "ioctl", `SIOCUNIXFILE on pid ${fd.pid} fd ${fd.fd}`);
  try {
    const st = fstatSync(file);
    let path = readlinkSync(`/proc/self/fd/${file}`, "buffer");
    const deleted = path.length >= DELETED.length && path.subarray(path.length - DELETED.length).equals(DELETED);
    if (deleted) path = path.subarray(0, path.length - DELETED.length);
    const nul = name.indexOf(0);
    const sunPath = name.subarray(0, nul < 0 ? name.length : nul);
    let nameDir: BoundFile["nameDir"];
    if (sunPath[0] !== 0x2f) {
      const at = path.length - sunPath.length;
      if (at < 1 || path[at - 1] !== 0x2f || !path.subarray(at).equals(sunPath)) {
        throw unsupported(fd, KIND, `cannot cut the socket name ${JSON.stringify(sunPath.toString())} from its path ${JSON.stringify(path.toString())}`);
      }
      nameDir = pathField(path.subarray(0, at - 1));
    }
    return { perms: { mode: st.mode, uid: st.uid, gid: st.gid }, deleted, nameDir };
  } finally {
    closeSync(file);
  }
}

export const unixSocketKind: RestorableFdKind = {
  type: KIND,
  field: "usk",
  detect: (fd: TaskFd) => isSocketOf(fd, AF_UNIX),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const lfd = ctx.grab(fd);
    const flags = fileFlags(fd.fdinfo.flags);
    const { sk, peer, netnsIno } = inspect(fd, lfd);

    const name = sk.name ?? Buffer.alloc(0);
    const bound = name.length > 0 && name[0] !== 0 ? resolveBoundFile(fd, lfd, name) : undefined;
    // A listener's receive queue holds connections (icons), not data.
    const queue: Uint8Array[] = sk.rqlen !== 0 && sk.state !== TCP_LISTEN ? peekQueue(fd, lfd, KIND) : [];

    const entry: UnixSkEntry = {
      id,
      ino: sk.ino,
      type: sk.type,
      state: sk.state,
      flags,
      uflags: 0,
      backlog: sk.wqlen,
      peer,
      fown: readFown(lfd, flags),
      opts: dumpSocketOpts(lfd, AF_UNIX),
      name: Uint8Array.from(name),
    };
    if (sk.shutdown !== 0) entry.shutdown = sk.shutdown;
    if (bound) {
      entry.file_perms = bound.perms;
      if (bound.nameDir !== undefined) entry.name_dir = bound.nameDir;
      if (bound.deleted) entry.deleted = true;
    }
    entry.ns_id = netnsId(ctx, netnsIno);
    // Last: nothing is written for a socket refused above.
    writeQueue(ctx, id, queue);
    return toMessage(entry);
  },
  restore: (message, id, ctx) => restoreUnixSocket(fromMessage(UnixSkEntrySchema, message), id, ctx),
};
