/**
 * Is a path on a BPF filesystem? Pins (BPF_OBJ_PIN) only exist on a bpffs,
 * so both `dump --pinned` and `restore --pin` check the directory first and
 * say so plainly instead of letting the kernel answer EPERM or EINVAL.
 */
import { statfsSync } from "node:fs";
import { IoError } from "../images/errors.js";

/** statfs f_type of a bpffs mount. */
export const BPF_FS_MAGIC = 0xcafe4a11;

/** statfs(path).f_type; IoError when the path cannot be looked at. */
export function fsTypeOf(path: string): number {
  try {
    return Number(statfsSync(path).type);
  } catch (e) {
    throw new IoError(`${path}: ${(e as Error).message}`);
  }
}

export function isOnBpffs(path: string): boolean {
  return fsTypeOf(path) === BPF_FS_MAGIC;
}
