/**
 * Reading a frozen process's fd table: for each fd, its /proc link and
 * fdinfo, and crtool's own duplicate of the open file (pidfd_getfd) to fstat
 * and to read through. Duplicates are closed when the dump ends.
 */
import { fstatSync } from "node:fs";
import { FdinfoReader, close, parseFdinfo, isErrno, listFds, parseFdLink, pidfdGetfd, pidfdOpen, readFdLinkBytes, O_CLOEXEC, type DumpHelperThread, type FdLink, type Fdinfo, type MapFdProbe } from "../kernel/index.js";
import type { FileStat, TaskFd } from "../contract/fd-kind.js";
import { NoSuchProcessError } from "./process-tree.js";
import { PermissionError } from "./freezer.js";

export class FdGrabber {
  private readonly pidfds = new Map<number, number>();
  private readonly grabbed = new Map<string, number>();
  /** crtool's fd → its key in `grabbed`. */
  private readonly keyOf = new Map<number, string>();
  private readonly fdinfoReaders = new Map<number, FdinfoReader>();
  /** The dump's helper thread, when it reads fdinfo ahead (see readAhead). */
  private helper: DumpHelperThread | undefined;
  /** What the helper thread learnt of the fd whose fdinfo was read last (see probe()). */
  private lastProbe: { pid: number; fd: number; probe: MapFdProbe } | undefined;

  /** Has `helper` read the fdinfo of `fds` of `pid` ahead of fdinfo() (see DumpHelperThread). */
  readAhead(pid: number, fds: readonly number[], helper: DumpHelperThread): void {
    this.helper = helper;
    helper.readAhead(pid, fds);
  }

  /** The fdinfo of fd `fd` of `pid` (read ahead, or through one open /proc/PID/fdinfo per process). */
  fdinfo(pid: number, fd: number): Fdinfo {
    const helper = this.helper;
    const text = helper?.take(pid, fd);
    this.lastProbe = undefined;
    if (text !== undefined) {
      // A BPF map's duplicate, taken by the thread with its fdinfo: grab() will return it.
      if (helper!.takenFd >= 0) {
        this.keep(pid, fd, helper!.takenFd);
        if (helper!.takenProbe) this.lastProbe = { pid, fd, probe: helper!.takenProbe };
      }
      return parseFdinfo(text);
    }
    let r = this.fdinfoReaders.get(pid);
    if (!r) {
      try {
        r = new FdinfoReader(pid);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NoSuchProcessError(`process ${pid} exited during the dump`);
        if ((e as NodeJS.ErrnoException).code === "EACCES") throw new PermissionError(`not permitted to read /proc/${pid}/fdinfo (run as root or as the target's user)`);
        throw e;
      }
      this.fdinfoReaders.set(pid, r);
    }
    return r.read(fd);
  }

  private pidfd(pid: number): number {
    let p = this.pidfds.get(pid);
    if (p === undefined) {
      try {
        p = pidfdOpen(pid);
      } catch (e) {
        if (isErrno(e, "ESRCH")) throw new NoSuchProcessError(`process ${pid} exited during the dump`);
        throw e;
      }
      this.pidfds.set(pid, p);
    }
    return p;
  }

  /** What the helper thread asked the kernel about fd `fd` of `pid` with its fdinfo, if it did (BPF maps). */
  probe(pid: number, fd: number): MapFdProbe | undefined {
    const p = this.lastProbe;
    return p && p.pid === pid && p.fd === fd ? p.probe : undefined;
  }

  private keep(pid: number, fd: number, ours: number): void {
    const key = `${pid}:${fd}`;
    if (this.grabbed.has(key)) {
      close(ours);
      return;
    }
    this.grabbed.set(key, ours);
    this.keyOf.set(ours, key);
  }

  /** crtool's duplicate of fd `fd` of `pid` (the same open file), cached. */
  grab(pid: number, fd: number): number {
    const key = `${pid}:${fd}`;
    let ours = this.grabbed.get(key);
    if (ours === undefined) {
      try {
        ours = pidfdGetfd(this.pidfd(pid), fd);
      } catch (e) {
        if (isErrno(e, "EPERM")) throw new PermissionError(`not permitted to take fd ${fd} of process ${pid} (pidfd_getfd needs ptrace rights over it)`);
        if (isErrno(e, "EBADF")) throw new NoSuchProcessError(`fd ${fd} of process ${pid} was closed during the dump`);
        if (isErrno(e, "ESRCH")) throw new NoSuchProcessError(`process ${pid} exited during the dump`);
        throw e;
      }
      this.grabbed.set(key, ours);
      this.keyOf.set(ours, key);
    }
    return ours;
  }

  /** Closes crtool's duplicate of one fd (a tree may hold more fds than crtool may open). */
  release(pid: number, fd: number): void {
    const key = `${pid}:${fd}`;
    const ours = this.grabbed.get(key);
    if (ours === undefined) return;
    this.grabbed.delete(key);
    this.keyOf.delete(ours);
    close(ours);
  }

  /** Hands one of crtool's duplicates to a caller that will close it; false if `ours` is not one. */
  adopt(ours: number): boolean {
    const key = this.keyOf.get(ours);
    if (key === undefined) return false;
    this.keyOf.delete(ours);
    this.grabbed.delete(key);
    return true;
  }

  closeAll(): void {
    for (const fd of [...this.grabbed.values(), ...this.pidfds.values()]) {
      try {
        close(fd);
      } catch {
        /* best effort */
      }
    }
    this.grabbed.clear();
    this.keyOf.clear();
    this.pidfds.clear();
    for (const r of this.fdinfoReaders.values()) r.close();
    this.fdinfoReaders.clear();
    this.helper = undefined;
  }
}

/** The fd numbers of a process, in order. */
export function listTaskFds(pid: number): number[] {
  try {
    return listFds(pid);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NoSuchProcessError(`process ${pid} exited during the dump`);
    if ((e as NodeJS.ErrnoException).code === "EACCES") throw new PermissionError(`not permitted to read /proc/${pid}/fd (run as root or as the target's user)`);
    throw e;
  }
}

/**
 * One fd of a process as /proc shows it. The link and stat are read on first
 * use: for most BPF maps fdinfo says enough, and a tree may hold tens of
 * thousands of them (a class, not an object of closures: less to allocate per fd).
 */
class ProcTaskFd implements TaskFd {
  readonly cloexec: boolean;
  private linkBytesRead: Buffer | undefined;
  private linkParsed: FdLink | undefined;
  private statTaken: FileStat | undefined;

  constructor(
    readonly pid: number,
    readonly fd: number,
    readonly fdinfo: Fdinfo,
    readonly probe: MapFdProbe | undefined,
    private readonly grabber: FdGrabber,
  ) {
    this.cloexec = (fdinfo.flags & O_CLOEXEC) !== 0;
  }

  get linkBytes(): Buffer {
    return (this.linkBytesRead ??= readFdLinkBytes(this.pid, this.fd));
  }

  get link(): FdLink {
    return (this.linkParsed ??= parseFdLink(Buffer.from(this.linkBytes).toString("utf8")));
  }

  get stat(): FileStat {
    if (!this.statTaken) {
      const st = fstatSync(this.grabber.grab(this.pid, this.fd), { bigint: true });
      this.statTaken = { dev: st.dev, ino: st.ino, mode: Number(st.mode), rdev: st.rdev, size: st.size, nlink: Number(st.nlink) };
    }
    return this.statTaken;
  }
}

/**
 * One fd of a process as a TaskFd. crtool's duplicate of it stays grabbed
 * (the fd kind will use it); the caller releases it when done with the fd.
 */
export function readTaskFd(pid: number, fd: number, grabber: FdGrabber): TaskFd {
  const fdinfo = grabber.fdinfo(pid, fd);
  return new ProcTaskFd(pid, fd, fdinfo, grabber.probe(pid, fd), grabber);
}

/** Every fd of a process, in fd order (each duplicate released after its stat). */
export function readTaskFds(pid: number, grabber: FdGrabber): TaskFd[] {
  return listTaskFds(pid).map((fd) => {
    const t = readTaskFd(pid, fd, grabber);
    void t.stat;
    void t.link;
    grabber.release(pid, fd);
    return t;
  });
}
