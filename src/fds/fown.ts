/**
 * fown_entry: who gets SIGIO/SIGURG for an open file (F_SETOWN/F_SETSIG).
 * The owner is a property of the open file description, so crtool reads it
 * with fcntl on its own duplicate, as CRIU's parasite does inside the task:
 * F_GETSIG always, F_GETOWN_EX, and F_GETOWNER_UIDS only when an owner is
 * set (fcntl answers in crtool's pid and user namespaces, the parasite in the
 * task's: the same when both share them).
 */
import { addressOf, fcntl, isErrno, stableBuffer } from "../kernel/index.js";
import type { FownEntry } from "../images/schema/types.js";
import { O_PATH } from "./open-flags.js";

const F_GETSIG = 11;
const F_GETOWN_EX = 16;
const F_GETOWNER_UIDS = 17;

/** fown of the open file `lfd` (crtool's duplicate); `flags` are its open flags. */
export function readFown(lfd: number, flags: number): FownEntry {
  const fown: FownEntry = { uid: 0, euid: 0, signum: 0, pid_type: 0, pid: 0 };
  // O_PATH files have no owner, and fcntl refuses these commands on them.
  if (flags & O_PATH) return fown;
  fown.signum = fcntl(lfd, F_GETSIG);

  // struct f_owner_ex { int type; pid_t pid; }
  const owner = stableBuffer(8);
  fcntl(lfd, F_GETOWN_EX, addressOf(owner));
  const pid = owner.readInt32LE(4);
  if (pid === 0) return fown;

  const uids = stableBuffer(8);
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
