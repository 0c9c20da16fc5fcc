/**
 * One kernel object several open files of a dump share (a ghost file's
 * inode, a memfd inode): made once per restore, then each open file is a
 * new open of it through /proc/self/fd, as CRIU reopens them.
 *
 * crtool's creating fd stays open only until the first open file is handed
 * out; from then on that handed-out fd is the way in (the orchestrator keeps
 * restored fds open until the whole table is restored), so crtool holds no
 * extra reference to the object once the table is handed over.
 */
import { NotSupportedError } from "../images/errors.js";
import type { OwnedFd } from "./restore-fd.js";

export class SharedFile {
  private via: number | undefined;

  /** `what` names the object in errors ("memfd inode 2"). */
  constructor(private readonly own: OwnedFd, private readonly what: string) {}

  /** An fd of crtool's on the object, to reopen through. */
  get fd(): number {
    if (this.own.isOpen) return this.own.fd;
    // Only when the open file that took the creating fd failed (and was closed) before it was handed out.
    if (this.via === undefined) throw new NotSupportedError(`${this.what}: its first open file failed to restore, and with it the way to reopen it`);
    return this.via;
  }

  /** The creating fd itself, for the one open file that may have it (a memfd's first O_RDWR open); undefined once gone. */
  takeOwn(): number | undefined {
    return this.own.isOpen ? this.own.release() : undefined;
  }

  /** `fd` was handed out for one open file: it is the way in from now on, and crtool's creating fd is closed. */
  handedOut(fd: number): void {
    this.via = fd;
    this.own.close();
  }
}
