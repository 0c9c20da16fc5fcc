/**
 * Which network namespace a socket lives in, and a sock_diag socket opened
 * in it. sock_diag only sees the sockets of the namespace its own socket was
 * created in (CRIU opens it inside the task's namespace). crtool asks the
 * socket itself (SIOCGSKNS gives an fd of its namespace), and when that is
 * not crtool's own, creates the diag socket there: setns on the calling
 * thread, socket(), setns back. setns(CLONE_NEWNET) changes only the calling
 * thread, and nothing else runs on it in between.
 */
import { closeSync, fstatSync, openSync } from "node:fs";
import { check, close } from "../../kernel/index.js";
import { ioctlRaw } from "../../kernel/index.js";
import { CLONE_NEWNET, SIOCGSKNS } from "./constants.js";
import { DiagSocket } from "./netlink.js";
import { setns } from "../../kernel/index.js";

/** The nsfs inode of the calling thread's network namespace. */
export function ownNetnsIno(): bigint {
  return fstatOf("/proc/thread-self/ns/net");
}

/** The nsfs inode of a process's network namespace. */
export function processNetnsIno(pid: number): bigint {
  return fstatOf(`/proc/${pid}/ns/net`);
}

function fstatOf(path: string): bigint {
  const fd = openSync(path, "r");
  try {
    return fstatSync(fd, { bigint: true }).ino;
  } finally {
    closeSync(fd);
  }
}

/** An open fd of the network namespace socket `lfd` belongs to (close it), with its inode. */
export function socketNetns(lfd: number): { fd: number; ino: bigint } {
  const fd = check(ioctlRaw(lfd, SIOCGSKNS, new Uint8Array(0)), "ioctl", `SIOCGSKNS on fd ${lfd}`);
  try {
    return { fd, ino: fstatSync(fd, { bigint: true }).ino };
  } catch (e) {
    close(fd);
    throw e;
  }
}

/** The inode of the network namespace socket `lfd` belongs to. */
export function socketNetnsIno(lfd: number): bigint {
  const ns = socketNetns(lfd);
  close(ns.fd);
  return ns.ino;
}

/** A diag socket that sees the sockets of the namespace `netnsFd` refers to (inode `netnsIno`). */
export function openDiagSocketIn(netnsFd: number, netnsIno: bigint): DiagSocket {
  if (netnsIno === ownNetnsIno()) return DiagSocket.open();
  const home = openSync("/proc/thread-self/ns/net", "r");
  try {
    setns(netnsFd, CLONE_NEWNET);
    try {
      return DiagSocket.open();
    } finally {
      setns(home, CLONE_NEWNET);
    }
  } finally {
    closeSync(home);
  }
}

/**
 * Runs `fn` with a diag socket in the namespace of socket `lfd`, passing
 * that namespace's inode too; closes everything after.
 */
export function withDiagSocketFor<T>(lfd: number, fn: (diag: DiagSocket, netnsIno: bigint) => T): T {
  const ns = socketNetns(lfd);
  try {
    const diag = openDiagSocketIn(ns.fd, ns.ino);
    try {
      return fn(diag, ns.ino);
    } finally {
      diag.close();
    }
  } finally {
    close(ns.fd);
  }
}
