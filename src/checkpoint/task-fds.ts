/**
 * Reading a frozen process's fd table: for each fd, its /proc link and
 * fdinfo, and crtool's own duplicate of the open file (pidfd_getfd) to fstat
 * and to read through. Duplicates are closed when the dump ends.
 */
import { fstatSync } from "node:fs";
import { FdinfoReader, close, parseFdinfo, isErrno, openFdList, parseFdLink, pidfdGetfd, pidfdOpen, readFdLinkBytes, O_CLOEXEC, FDINFO_AHEAD_MAX, type DumpHelperThread, type FdList, type FdLink, type Fdinfo, type MapFdProbe } from "../kernel/index.js";
import type { FileStat, TaskFd } from "../contract/fd-kind.js";
import { NoSuchProcessError } from "./process-tree.js";
import { PermissionError } from "./freezer.js";

export class FdGrabber {
  private readonly pidfds = new Map<number, number>();
  /**
   * crtool's duplicates, by process and by that process's fd number (-1 or
   * a hole: none); and for each of crtool's fds, the process and fd it
   * duplicates (pidOf -1 or a hole: not one). Arrays of small integers, not
   * maps with string keys: a dump of 10,000 maps takes and hands over one per map.
   */
  private readonly grabbed = new Map<number, number[]>();
  private readonly pidOf: number[] = [];
  private readonly fdOf: number[] = [];
  private readonly fdinfoReaders = new Map<number, FdinfoReader>();
  /** The dump's helper thread, when it reads fdinfo ahead (see readAhead). */
  private helper: DumpHelperThread | undefined;
  /** What the helper thread learnt of the fd whose fdinfo was read last (see probe()). */
  private lastProbe: MapFdProbe | undefined;
  private lastProbePid = -1;
  private lastProbeFd = -1;
  /** Where the helper thread's bytes of an fdinfo are copied (see rawFdinfo). */
  private readonly aheadBytes = Buffer.allocUnsafe(FDINFO_AHEAD_MAX);

  /** Has `helper` read the fdinfo of `fds` of `pid` ahead of fdinfo() (see DumpHelperThread). */
  readAhead(pid: number, fds: readonly number[], helper: DumpHelperThread): void {
    this.helper = helper;
    helper.readAhead(pid, fds);
  }

  /** The fdinfo of fd `fd` of `pid` (read ahead, or through one open /proc/PID/fdinfo per process). */
  fdinfo(pid: number, fd: number): Fdinfo {
    // Read by rawFdinfo() already (its duplicate and probe kept then), or read now.
    const n = this.rawPid === pid && this.rawFd === fd ? this.rawLength : this.rawFdinfo(pid, fd);
    this.rawPid = -1;
    return n >= 0 ? parseFdinfo(this.rawBytes.toString("utf8", 0, n)) : this.reader(pid).read(fd);
  }

  /** Where rawFdinfo() put the bytes: [0, its length). */
  rawBytes: Buffer = this.aheadBytes;
  private rawLength = 0;
  /** The fd whose bytes rawBytes holds, until fdinfo() takes them (-1: none). */
  private rawPid = -1;
  private rawFd = -1;

  /**
   * The fdinfo of fd `fd` of `pid` as bytes, in rawBytes (read ahead, or
   * read now): its length, or -1 when it is too long for that (fdinfo()
   * reads it whole). A following fdinfo() of the same fd parses these
   * bytes instead of reading the file again.
   */
  rawFdinfo(pid: number, fd: number): number {
    this.lastProbe = undefined;
    const helper = this.helper;
    const ahead = helper ? helper.takeInto(pid, fd, this.aheadBytes) : -1;
    let n: number;
    if (ahead >= 0) {
      // A BPF map's duplicate, taken by the thread with its fdinfo: grab() will return it.
      if (helper!.takenFd >= 0) {
        this.keep(pid, fd, helper!.takenFd);
        if (helper!.takenProbe) {
          this.lastProbe = helper!.takenProbe;
          this.lastProbePid = pid;
          this.lastProbeFd = fd;
        }
      }
      this.rawBytes = this.aheadBytes;
      n = ahead;
    } else {
      const r = this.reader(pid);
      n = r.readRaw(fd);
      this.rawBytes = r.bytes;
    }
    this.rawPid = n >= 0 ? pid : -1;
    this.rawFd = fd;
    this.rawLength = n;
    return n;
  }

  /** The bytes rawFdinfo() read were used by the caller: a later fdinfo() of that fd reads the file again. */
  rawUsed(): void {
    this.rawPid = -1;
  }

  private reader(pid: number): FdinfoReader {
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
    return r;
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
    return this.lastProbePid === pid && this.lastProbeFd === fd ? this.lastProbe : undefined;
  }

  private ours(pid: number, fd: number): number | undefined {
    const v = this.grabbed.get(pid)?.[fd];
    return v === undefined || v < 0 ? undefined : v;
  }

  private record(pid: number, fd: number, ours: number): void {
    let byFd = this.grabbed.get(pid);
    if (!byFd) this.grabbed.set(pid, (byFd = []));
    byFd[fd] = ours;
    this.pidOf[ours] = pid;
    this.fdOf[ours] = fd;
  }

  /** Forgets crtool's fd `ours` (the caller closes it, or has handed it over); false if it is not one of the duplicates. */
  private forget(ours: number): boolean {
    const pid = this.pidOf[ours];
    if (pid === undefined || pid < 0) return false;
    this.grabbed.get(pid)![this.fdOf[ours]] = -1;
    this.pidOf[ours] = -1;
    return true;
  }

  private keep(pid: number, fd: number, ours: number): void {
    if (this.ours(pid, fd) !== undefined) {
      close(ours);
      return;
    }
    this.record(pid, fd, ours);
  }

  /** crtool's duplicate of fd `fd` of `pid` (the same open file), cached. */
  grab(pid: number, fd: number): number {
    let ours = this.ours(pid, fd);
    if (ours === undefined) {
      try {
        ours = pidfdGetfd(this.pidfd(pid), fd);
      } catch (e) {
        if (isErrno(e, "EPERM")) throw new PermissionError(`not permitted to take fd ${fd} of process ${pid} (pidfd_getfd needs ptrace rights over it)`);
        if (isErrno(e, "EBADF")) throw new NoSuchProcessError(`fd ${fd} of process ${pid} was closed during the dump`);
        if (isErrno(e, "ESRCH")) throw new NoSuchProcessError(`process ${pid} exited during the dump`);
        throw e;
      }
      this.record(pid, fd, ours);
    }
    return ours;
  }

  /** Closes crtool's duplicate of one fd (a tree may hold more fds than crtool may open). */
  release(pid: number, fd: number): void {
    const ours = this.ours(pid, fd);
    if (ours === undefined) return;
    this.forget(ours);
    close(ours);
  }

  /** Hands one of crtool's duplicates to a caller that will close it; false if `ours` is not one. */
  adopt(ours: number): boolean {
    return this.forget(ours);
  }

  closeAll(): void {
    const ours: number[] = [];
    this.pidOf.forEach((pid, fd) => {
      if (pid >= 0) ours.push(fd);
    });
    for (const fd of [...ours, ...this.pidfds.values()]) {
      try {
        close(fd);
      } catch {
        /* best effort */
      }
    }
    this.grabbed.clear();
    this.pidOf.length = 0;
    this.fdOf.length = 0;
    this.pidfds.clear();
    for (const r of this.fdinfoReaders.values()) r.close();
    this.fdinfoReaders.clear();
    this.helper = undefined;
  }
}

/** The fd numbers of a process, in order. */
export function listTaskFds(pid: number): number[] {
  return openTaskFdList(pid).read();
}

/** listTaskFds in two steps (see openFdList): the directory is opened now and listed by read(). */
export function openTaskFdList(pid: number): FdList {
  const list = withTaskFdErrors(pid, () => openFdList(pid));
  return { read: () => withTaskFdErrors(pid, () => list.read()), close: () => list.close() };
}

function withTaskFdErrors<T>(pid: number, f: () => T): T {
  try {
    return f();
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
