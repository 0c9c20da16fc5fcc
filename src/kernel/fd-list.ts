/**
 * The fds a process has open, read with getdents64 into one buffer and
 * parsed in place. fs.readdirSync makes a string per entry (then a regex
 * test, a number and a sort): with tens of thousands of fds that was half
 * of the listing's time.
 */
import { closeSync, constants, openSync } from "node:fs";
import { O_CLOEXEC, addressOf, check, rawSyscall, syscallNumbers } from "./libc.js";
import { openFdCount } from "./procfs.js";

/** An entry takes 24 bytes (names of up to 4 digits) or 32 (up to 12). */
const ENTRY_MAX = 32;
/** At most ~8,000 entries a call: a larger table takes more calls. */
const BUFFER_MAX = 256 << 10;
/** struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), then d_name. */
const RECLEN_AT = 16;
const NAME_AT = 19;

/**
 * The fd numbers of `pid`, ascending. The directory's open fails as
 * fs.openSync fails (`code` ENOENT for a process that is gone, EACCES...);
 * a failed read throws a SyscallError with its errno's name as `code`.
 */
export function listOpenFds(pid: number | "self"): number[] {
  return openFdList(pid).read();
}

/** A process's fd directory, opened: its listing is read later (read() closes it). */
export interface FdList {
  read(): number[];
  /** Closes the directory unless read() did. */
  close(): void;
}

/**
 * listOpenFds in two steps: the directory is opened now, listed by read().
 * The listing then needs no new fd of crtool's, so it runs on while crtool's
 * own fd table grows on another thread (reserveFdsInBackground), which
 * holds every fd allocation of the process until it is done.
 */
export function openFdList(pid: number | "self"): FdList {
  const path = `/proc/${pid}/fd`;
  const dir = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC);
  let done = false;
  return {
    read() {
      if (done) throw new Error(`the listing of ${path} was read already`);
      done = true;
      return readFdList(pid, path, dir);
    },
    close() {
      if (done) return;
      done = true;
      closeSync(dir);
    },
  };
}

function readFdList(pid: number | "self", path: string, dir: number): number[] {
  try {
    // Sized by the count Linux gives the directory: most processes need a page, not 256 KiB.
    const size = Math.min(BUFFER_MAX, Math.max(4096, ((openFdCount(pid) ?? BUFFER_MAX) + 16) * ENTRY_MAX));
    const buf = Buffer.allocUnsafeSlow(size);
    const address = addressOf(buf);
    const nr = syscallNumbers().getdents64;
    const fds: number[] = [];
    let ascending = true;
    let last = -1;
    for (;;) {
      const n = check(rawSyscall(nr, dir, address, size), "getdents64", path);
      if (n === 0) break;
      // Few bytecodes per entry: this loop runs once per dump, mostly before V8 has compiled it
      // (10,000 fds took 12 ms with a readUInt16LE call per entry, the kernel's part 3 ms).
      for (let at = 0; at < n; ) {
        const end = at + (buf[at + RECLEN_AT] | (buf[at + RECLEN_AT + 1] << 8));
        // A name of digits only: "." and ".." are not fds.
        let p = at + NAME_AT;
        let c = buf[p];
        let fd = c - 48;
        if (fd >= 0 && fd <= 9) {
          while ((c = buf[++p]) >= 48 && c <= 57) fd = fd * 10 + (c - 48);
          if (c === 0 || p === end) {
            if (fd < last) ascending = false;
            last = fd;
            fds.push(fd);
          }
        }
        at = end;
      }
    }
    // The kernel lists fds in order; not relied on.
    if (!ascending) fds.sort((a, b) => a - b);
    return fds;
  } finally {
    closeSync(dir);
  }
}
