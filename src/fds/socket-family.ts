/**
 * Which kind of socket an fd is, for the kinds' detect(): the /proc link
 * only says "socket:[ino]", so crtool reads the protocol name sockfs gives
 * every socket as the xattr "system.sockprotoname" (the name of the
 * kernel's struct proto: "UNIX-STREAM", "TCPv6", "NETLINK"...), through the
 * task's /proc/PID/fd/N link. No duplicate of the fd is needed.
 *
 * The answer is kept per TaskFd, as every socket kind asks in turn.
 */
import type { TaskFd } from "../contract/fd-kind.js";
import { S_IFSOCK, fileType } from "./file-mode.js";
import { AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNIX } from "./sock-diag/constants.js";
import { getxattr } from "../kernel/index.js";

export interface SocketProto {
  /** The protocol name as the kernel spells it. */
  name: string;
  /** The address family it belongs to, or undefined for families crtool does not know. */
  family: number | undefined;
}

/** struct proto names → family (net/unix, net/ipv4, net/ipv6, net/netlink, net/packet). */
const FAMILIES: Readonly<Record<string, number>> = {
  UNIX: AF_UNIX,
  "UNIX-STREAM": AF_UNIX,
  TCP: AF_INET,
  UDP: AF_INET,
  "UDP-Lite": AF_INET,
  RAW: AF_INET,
  PING: AF_INET,
  MPTCP: AF_INET,
  TCPv6: AF_INET6,
  UDPv6: AF_INET6,
  UDPLITEv6: AF_INET6,
  RAWv6: AF_INET6,
  PINGv6: AF_INET6,
  MPTCPv6: AF_INET6,
  NETLINK: AF_NETLINK,
  PACKET: AF_PACKET,
};

const cache = new WeakMap<TaskFd, SocketProto | null>();

/** The socket's protocol, or undefined when `fd` is not a socket (or vanished). */
export function socketProto(fd: TaskFd): SocketProto | undefined {
  if (!(fd.link.kind === "pseudo" && fd.link.type === "socket" && fileType(fd.stat.mode) === S_IFSOCK)) return undefined;
  let p = cache.get(fd);
  if (p === undefined) {
    p = readProto(fd);
    cache.set(fd, p);
  }
  return p ?? undefined;
}

function readProto(fd: TaskFd): SocketProto | null {
  let raw: Buffer | undefined;
  try {
    raw = getxattr(`/proc/${fd.pid}/fd/${fd.fd}`, "system.sockprotoname");
  } catch {
    // The fd was closed meanwhile, or the kernel lacks sockfs xattrs: not ours to claim.
    return null;
  }
  if (!raw) return null;
  const nul = raw.indexOf(0);
  const name = raw.subarray(0, nul < 0 ? raw.length : nul).toString("latin1");
  return { name, family: FAMILIES[name] };
}

/** True when `fd` is a socket of address family `family`. */
export function isSocketOf(fd: TaskFd, family: number): boolean {
  return socketProto(fd)?.family === family;
}
