/**
 * Reading the fdinfo of many fds of one process, as a dump of ten thousand
 * BPF maps does: each file is opened relative to the process's
 * /proc/PID/fdinfo directory (one path component to look up instead of
 * four) and read with plain system calls into one buffer, which halves the
 * cost of Node's openSync/readSync/closeSync for these small files.
 */
import { openSync, closeSync, readFileSync, constants } from "node:fs";
import { O_CLOEXEC, addressOf, rawSyscall, rawSyscall6, stableBuffer, syscallNumbers } from "./libc.js";
import { SyscallError } from "./errors.js";
import { parseFdinfo, type Fdinfo } from "./fdinfo.js";
import { O_RDONLY } from "./open-flags.js";

const BUF_SIZE = 16 << 10;

export class FdinfoReader {
  private dir: number | undefined;
  private readonly buf = stableBuffer(BUF_SIZE);
  private readonly name = stableBuffer(16);

  /** Throws Node's ENOENT/EACCES error when the process or its fdinfo is not there. */
  constructor(readonly pid: number) {
    this.dir = openSync(`/proc/${pid}/fdinfo`, constants.O_RDONLY | constants.O_DIRECTORY);
  }

  /** The bytes read last by readRaw(), at [0, length). */
  get bytes(): Buffer {
    return this.buf;
  }

  /**
   * Reads fd `fd`'s fdinfo into `bytes` and returns its length, or -1 when
   * it does not fit (read() reads those whole).
   */
  readRaw(fd: number): number {
    if (this.dir === undefined) throw new Error("FdinfoReader used after close()");
    const nr = syscallNumbers();
    const len = this.name.write(String(fd), 0, "latin1");
    this.name[len] = 0;
    const f = rawSyscall6(nr.openat, this.dir, addressOf(this.name), O_RDONLY | O_CLOEXEC, 0);
    if (f < 0) throw new SyscallError({ syscall: "open", errno: -f, detail: `/proc/${this.pid}/fdinfo/${fd}` });
    let n: number;
    try {
      n = rawSyscall(nr.read, f, addressOf(this.buf), BUF_SIZE);
    } finally {
      rawSyscall(nr.close, f);
    }
    if (n < 0) throw new SyscallError({ syscall: "read", errno: -n, detail: `/proc/${this.pid}/fdinfo/${fd}` });
    return n < BUF_SIZE ? n : -1;
  }

  read(fd: number): Fdinfo {
    const n = this.readRaw(fd);
    // Long epoll/inotify target lists do not fit: read those whole.
    const text = n >= 0 ? this.buf.toString("utf8", 0, n) : readFileSync(`/proc/${this.pid}/fdinfo/${fd}`, "utf8");
    return parseFdinfo(text);
  }

  close(): void {
    if (this.dir !== undefined) closeSync(this.dir);
    this.dir = undefined;
  }
}
