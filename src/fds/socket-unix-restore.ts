/**
 * Restoring UNIXSK entries: unix socketpairs whose two ends are both in the
 * restored process's fd table, as CRIU 4.2's sk-unix.c restores a pair
 * (open_unixsk_pair_master / restore_sk_queue), in crtool's own process:
 *
 * - The pair is made once, by socketpair(AF_UNIX, type), whichever end is
 *   restored first (ctx.once, keyed by both inodes; the end with the lower
 *   inode gets sv[0]). Each file entry takes its end; the other end is
 *   kept (an OwnedFd, closed by the rollback if its entry never takes it).
 * - The queues go back before any end is handed out: an sk-queues.img packet
 *   whose id_for is end A's file id was in A's receive queue, so it is sent
 *   from end B, in image order; one send per packet, which keeps datagram
 *   and seqpacket boundaries (stream bytes coalesce anyway). The sender's
 *   SO_SNDBUF is raised while sending (as CRIU's restore_prepare_socket), and
 *   sends never block: what does not fit refuses the file.
 * - Then each end's recorded shutdown (shutdown(2) after the data, so the
 *   data still arrives), and, when an end is handed out, its socket options
 *   (socket-unix-restore-opts.ts, the recorded buffer sizes included), its
 *   status flags (O_NONBLOCK...) and its owner (fown).
 *
 * Everything else is refused with a NotSupportedError naming the file, the
 * socket (type, name, inode) and why, so --skip-unsupported can leave it
 * out: bound or listening sockets, abstract names, connections to sockets
 * outside the dump or to a bound (accepted) socket, a peer in another
 * process's fd table, peers that were closed, queued file descriptors or
 * credentials, and CRIU's external/service sockets (uflags).
 *
 * The network namespace (ns_id) is not restored: the pair is made in
 * crtool's, which a socketpair does not depend on.
 */
import type { RestoreContext } from "../contract/restore-context.js";
import type { ImageMessage } from "../images/wire/message.js";
import { type SkOptsEntry, type SkPacketEntry, type UnixSkEntry, SkPacketEntrySchema, UnixSkEntrySchema } from "../images/schema/types.js";
import { SyscallError, isErrno } from "../kernel/index.js";
import { FD_TYPE_NUMBERS, type RestoredFile } from "../contract/fd-kind.js";
import { restoreFown } from "./fown.js";
import { fromMessage } from "./message.js";
import { filesOfType, processFileIds } from "./process-files.js";
import { cannotRestore } from "./restore-errors.js";
import { OwnedFd, finishFd, setStatusFlags } from "./restore-fd.js";
import { AF_UNIX, MSG_DONTWAIT, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, SO_SNDBUF, TCP_ESTABLISHED, TCP_LISTEN } from "./sock-diag/constants.js";
import { sendmsg, shutdown, socketpair } from "../kernel/index.js";
import { SO_SNDBUFFORCE, restoreSocketOpts, setBufferSize } from "./socket-unix-restore-opts.js";

const KIND = "UNIXSK";
const MSG_NOSIGNAL = 0x4000;
/** What CRIU's restore_prepare_socket gives a socket it refills: the kernel's int limit, halved (it doubles). */
const MAX_BUF = 0x7ffffffe;

/** One end of a pair as the image describes it. */
interface Side {
  id: number;
  sk: UnixSkEntry;
}

/** One saved packet of a receive queue. */
interface Packet {
  entry: SkPacketEntry;
  bytes: Uint8Array;
}

/** A restored pair: each end, by file id, until its entry takes it. */
type Pair = Map<number, OwnedFd>;

function typeName(type: number): string {
  return type === SOCK_STREAM ? "stream" : type === SOCK_DGRAM ? "dgram" : type === SOCK_SEQPACKET ? "seqpacket" : `type-${type}`;
}

/** How a name reads in messages: unnamed, "@abstract", or the path. */
function nameOf(sk: UnixSkEntry): string {
  const name = Buffer.from(sk.name ?? new Uint8Array(0));
  if (name.length === 0) return "unnamed";
  if (name[0] === 0) return `abstract name ${JSON.stringify(`@${name.subarray(1).toString()}`)}`;
  const nul = name.indexOf(0);
  return `path ${JSON.stringify(name.subarray(0, nul < 0 ? name.length : nul).toString())}`;
}

/** "unix stream socket 60613 (unnamed)". */
export function describeUnixSocket(sk: UnixSkEntry): string {
  return `unix ${typeName(sk.type)} socket ${sk.ino} (${nameOf(sk)})`;
}

function refuse(side: Side, why: string): never {
  throw cannotRestore(side.id, KIND, `${describeUnixSocket(side.sk)}: ${why}`);
}

/** Why this socket (on its own) cannot be one end of a restored socketpair, or undefined. */
function unrestorableBecause(sk: UnixSkEntry): string | undefined {
  if (sk.type !== SOCK_STREAM && sk.type !== SOCK_DGRAM && sk.type !== SOCK_SEQPACKET) return "only stream, dgram and seqpacket sockets can be restored";
  if (sk.uflags) return `CRIU marked it external, a service socket or inherited (uflags 0x${sk.uflags.toString(16)}), which crtool does not restore`;
  const named = (sk.name?.length ?? 0) > 0;
  if (named || sk.file_perms || sk.name_dir !== undefined || sk.deleted) {
    return `it is bound to ${named ? nameOf(sk) : "a name"}; crtool restores only unnamed socketpairs, not bound sockets`;
  }
  if (sk.state === TCP_LISTEN) return "it is listening; crtool restores only socketpairs";
  if (!sk.peer) {
    return sk.state === TCP_ESTABLISHED ? "its peer was closed; crtool restores only socketpairs with both ends open" : "it is not connected to anything; crtool restores only socketpairs";
  }
  if (sk.state !== TCP_ESTABLISHED) return `it is in state ${sk.state}, not connected`;
  const how = sk.shutdown ?? 0;
  if (how < 0 || how > 3) return `its shutdown state ${how} is not one CRIU records`;
  return undefined;
}

/** The other end of `me`'s socketpair in the dump; refuses what is not a socketpair of this process. */
async function findPeer(me: Side, ctx: RestoreContext): Promise<Side> {
  const files = await filesOfType(ctx, FD_TYPE_NUMBERS.UNIXSK);
  const found = files
    .map((f) => ({ id: f.id as number, sk: f.usk ? fromMessage(UnixSkEntrySchema, f.usk as ImageMessage) : undefined }))
    .filter((f): f is Side => f.sk !== undefined && f.sk.ino === me.sk.peer);
  if (found.length === 0) {
    refuse(me, `its peer, socket ${me.sk.peer}, is not in the dump (connected to a socket outside the dumped files); crtool restores only socketpairs with both ends dumped`);
  }
  if (found.length > 1) refuse(me, `files.img has ${found.length} entries (files ${found.map((f) => f.id).join(", ")}) for its peer, socket ${me.sk.peer}`);
  const peer = found[0];
  const peerWhy = unrestorableBecause(peer.sk);
  if (peer.sk.peer !== me.sk.ino) {
    refuse(me, `it is connected to ${describeUnixSocket(peer.sk)} (file ${peer.id}), whose own peer is ${peer.sk.peer ? `socket ${peer.sk.peer}` : "none"}: not a socketpair`);
  }
  if (peerWhy) refuse(me, `its peer, file ${peer.id}, ${describeUnixSocket(peer.sk)}, cannot be restored: ${peerWhy}`);
  if (peer.sk.type !== me.sk.type) refuse(me, `its peer, file ${peer.id}, is a ${typeName(peer.sk.type)} socket (files.img is inconsistent)`);
  const mine = await processFileIds(ctx);
  if (mine && !mine.has(peer.id)) {
    refuse(me, `its peer, file ${peer.id} (socket ${peer.sk.ino}), is not in this process's fd table (another process of the dump holds it); crtool restores one process's fds`);
  }
  return peer;
}

/** sk-queues.img as packets by the file id whose receive queue held them, in image order. */
function queues(ctx: RestoreContext): Promise<Map<number, Packet[]>> {
  return ctx.once("unixsk:queues", async () => {
    const out = new Map<number, Packet[]>();
    for (const e of (await ctx.loadImage("sk-queues.img")) ?? []) {
      const entry = fromMessage(SkPacketEntrySchema, e.message);
      const bytes = e.payload instanceof Uint8Array ? e.payload : new Uint8Array(0);
      let list = out.get(entry.id_for);
      if (!list) out.set(entry.id_for, (list = []));
      list.push({ entry, bytes });
    }
    return out;
  });
}

/** The saved receive queue of `side`, refused if it holds what crtool cannot send again. */
function queueOf(side: Side, all: Map<number, Packet[]>): Packet[] {
  const packets = all.get(side.id) ?? [];
  for (const p of packets) {
    if (p.bytes.length !== p.entry.length) refuse(side, `a queued packet in sk-queues.img has ${p.bytes.length} bytes, not the ${p.entry.length} its entry says`);
    const scm = p.entry.scm ?? [];
    if (scm.length > 0) {
      refuse(side, scm.some((c) => c.type === 1)
        ? "a queued message carries file descriptors (SCM_RIGHTS), which crtool cannot restore"
        : `a queued message carries control messages (types ${scm.map((c) => c.type).join(", ")}), which crtool cannot restore`);
    }
  }
  return packets;
}

/**
 * Sends `receiver`'s saved queue from `sender` (the other end): one send per
 * packet, never blocking. Stream sends may be partial; the rest follows.
 */
function refill(sender: number, receiver: Side, packets: readonly Packet[]): void {
  if (packets.length === 0) return;
  // Room for everything that was queued, whatever the sizes are later set to.
  try {
    setBufferSize(sender, SO_SNDBUFFORCE, SO_SNDBUF, MAX_BUF);
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e; // the sends below say whether it mattered
  }
  const total = packets.reduce((n, p) => n + p.bytes.length, 0);
  let sent = 0;
  for (const [i, p] of packets.entries()) {
    if (receiver.sk.type === SOCK_STREAM) {
      for (let done = 0; done < p.bytes.length; ) {
        const n = send(sender, p.bytes.subarray(done), receiver, total, sent);
        done += n;
        sent += n;
      }
    } else {
      const n = send(sender, p.bytes, receiver, total, sent);
      if (n !== p.bytes.length) refuse(receiver, `queued message ${i + 1} of ${packets.length} (${p.bytes.length} bytes) went out as ${n} bytes`);
      sent += n;
    }
  }
}

function send(sender: number, bytes: Uint8Array, receiver: Side, total: number, sent: number): number {
  try {
    return sendmsg(sender, bytes, undefined, MSG_DONTWAIT | MSG_NOSIGNAL);
  } catch (e) {
    if (isErrno(e, "EAGAIN")) {
      refuse(receiver, `its ${total} queued bytes do not fit back in (only ${sent} did; SO_SNDBUF of the other end could not be raised enough)`);
    }
    if (isErrno(e, "EMSGSIZE")) refuse(receiver, `a queued ${typeName(receiver.sk.type)} message of ${bytes.length} bytes is too large to send again`);
    throw e;
  }
}

/** socketpair(2) with both queues refilled and the recorded shutdowns applied; each end owned until taken. */
async function createPair(a: Side, b: Side, ctx: RestoreContext): Promise<Pair> {
  const all = await queues(ctx);
  const qa = queueOf(a, all);
  const qb = queueOf(b, all);
  const [fa, fb] = socketpair(AF_UNIX, a.sk.type | SOCK_CLOEXEC);
  const pair: Pair = new Map([[a.id, new OwnedFd(fa, ctx)], [b.id, new OwnedFd(fb, ctx)]]);
  try {
    refill(fb, a, qa);
    refill(fa, b, qb);
    // After the data: a peer's SHUT_WR would refuse it. sk_shutdown bits 1 (RCV), 2 (SEND) are CRIU's READ/WRITE/BOTH, shutdown(2)'s how + 1.
    for (const [side, fd] of [[a, fa], [b, fb]] as const) {
      const how = side.sk.shutdown ?? 0;
      if (how !== 0) shutdown(fd, how - 1);
    }
  } catch (e) {
    for (const end of pair.values()) end.close();
    throw e;
  }
  const bytes = (q: Packet[]): number => q.reduce((n, p) => n + p.bytes.length, 0);
  ctx.log(`files ${a.id} and ${b.id} (UNIXSK): ${typeName(a.sk.type)} socketpair, ${qa.length} packets (${bytes(qa)} bytes) queued for file ${a.id}, ${qb.length} (${bytes(qb)} bytes) for file ${b.id}`);
  return pair;
}

/** UNIXSK entry `sk` (file `id`): its end of the restored socketpair, with its options, flags and owner. */
export async function restoreUnixSocket(sk: UnixSkEntry, id: number, ctx: RestoreContext): Promise<RestoredFile> {
  const me: Side = { id, sk };
  const why = unrestorableBecause(sk);
  if (why) refuse(me, why);
  const peer = await findPeer(me, ctx);
  const [a, b] = sk.ino < peer.sk.ino ? [me, peer] : [peer, me];
  const pair = await ctx.once(`unixsk:pair:${a.sk.ino}:${b.sk.ino}`, () => createPair(a, b, ctx));
  const end = pair.get(id);
  if (!end?.isOpen) throw new Error(`file ${id} (${KIND}): its end of the socketpair was already handed out or closed`);
  const fd = end.release();
  return finishFd(fd, () => {
    restoreSocketOpts(fd, sk.opts as SkOptsEntry | undefined, ctx, id, KIND, describeUnixSocket(sk));
    setStatusFlags(fd, sk.flags);
    restoreFown(fd, sk.fown, sk.flags, ctx, id, KIND);
  });
}
