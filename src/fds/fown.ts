/**
 * fown_entry: who gets SIGIO/SIGURG for an open file (F_SETOWN/F_SETSIG).
 * The owner is a property of the open file description, so crtool reads it
 * with fcntl on its own duplicate, as CRIU's parasite does inside the task:
 * F_GETSIG always, F_GETOWN_EX, and F_GETOWNER_UIDS only when an owner is
 * set (fcntl answers in crtool's pid and user namespaces, the parasite in the
 * task's: the same when both share them).
 *
 * On restore (restoreFown) the signal is set again, and the owner when it is
 * a process that exists. CRIU switches to the recorded uid/euid around
 * F_SETOWN_EX so the kernel keeps those credentials for its permission
 * check; crtool does not switch credentials (a Node process has threads),
 * so the owner's credentials become crtool's.
 */
import { addressOf, fcntl, isErrno, stableBuffer } from "../kernel/index.js";
import type { FownEntry } from "../images/schema/types.js";
import type { RestoreContext } from "../contract/restore-context.js";
import { O_PATH } from "../kernel/index.js";
import { loseOrThrowOnRestore } from "./restore-errors.js";

const F_SETSIG = 10;
const F_GETSIG = 11;
const F_SETOWN_EX = 15;
const F_GETOWN_EX = 16;
const F_GETOWNER_UIDS = 17;

/** fown of the open file `lfd` (crtool's duplicate); `flags` are its open flags. */
// Reused: a dump reads the owner of every fd, and a fresh off-heap buffer each time costs more than the calls.
const ownerBuf = stableBuffer(8);
const uidsBuf = stableBuffer(8);

/**
 * `asked`: F_GETSIG and F_GETOWN_EX's pid when already asked (the dump's
 * helper thread does for BPF maps); with no owner, nothing more is asked.
 */
export function readFown(lfd: number, flags: number, asked?: { signum: number; ownerPid: number }): FownEntry {
  const fown: FownEntry = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
  // O_PATH files have no owner, and fcntl refuses these commands on them.
  if (flags & O_PATH) return fown;
  if (asked && asked.ownerPid === 0) {
    fown.signum = asked.signum;
    return fown;
  }
  fown.signum = fcntl(lfd, F_GETSIG);

  // struct f_owner_ex { int type; pid_t pid; }
  const owner = ownerBuf;
  fcntl(lfd, F_GETOWN_EX, addressOf(owner));
  const pid = owner.readInt32LE(4);
  if (pid === 0) return fown;

  const uids = uidsBuf;
  try {
    fcntl(lfd, F_GETOWNER_UIDS, addressOf(uids));
    fown.uid = uids.readUInt32LE(0);
    fown.euid = uids.readUInt32LE(4);
  } catch (e) {
    // Kernels without CONFIG_CHECKPOINT_RESTORE lack F_GETOWNER_UIDS; uid/euid stay 0.
    if (!isErrno(e, "EINVAL")) throw e;
  }
  fown.pid_type = owner.readInt32LE(0);
  fown.pid = pid;
  return fown;
}

/**
 * Sets fown on crtool's restored open file `fd` (file `id` of kind `kind`).
 * An owner that was the restored process itself, or a process that is gone,
 * cannot be set: the process taking the fds over does not exist yet.
 */
export function restoreFown(fd: number, fown: FownEntry | undefined, flags: number, ctx: RestoreContext, id: number, kind: string): void {
  if (!fown || flags & O_PATH) return;
  if (fown.signum) fcntl(fd, F_SETSIG, fown.signum);
  if (!fown.pid) return;
  if (fown.pid === ctx.pid) {
    loseOrThrowOnRestore(ctx, id, kind, `its SIGIO owner was the dumped process itself (pid ${fown.pid}); the process that takes the fd over does not exist yet when crtool restores it`);
    return;
  }
  const owner = stableBuffer(8);
  owner.writeInt32LE(fown.pid_type, 0);
  owner.writeInt32LE(fown.pid, 4);
  try {
    fcntl(fd, F_SETOWN_EX, addressOf(owner));
  } catch (e) {
    if (!isErrno(e, "ESRCH")) throw e;
    loseOrThrowOnRestore(ctx, id, kind, `its SIGIO owner, ${fown.pid_type === 2 ? "process group" : "process"} ${fown.pid}, no longer exists`);
  }
}
