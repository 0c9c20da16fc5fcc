/**
 * copy_file_range(2): bytes from one file to another inside the kernel, with
 * no buffer in this process (a map's scratch files into its image: fresh
 * user memory costs more than the copy where page faults are slow).
 */
import { addressOf, rawSyscall7, stableBuffer, syscallNumbers } from "./libc.js";
import { SyscallError, errnoNumber } from "./errors.js";

/** The kernel cannot copy between these files (another filesystem, an old kernel): the caller copies itself. */
const FALL_BACK = new Set((["EXDEV", "EINVAL", "ENOSYS", "EOPNOTSUPP", "EBADF"] as const).map((n) => errnoNumber(n)));

/**
 * Copies `length` bytes of `fdIn` from `offset` to `fdOut` at its file
 * position. Returns false, having copied nothing, when the kernel cannot
 * copy between these files; throws a SyscallError for any other failure.
 */
export function copyFileRange(fdIn: number, offset: number, fdOut: number, length: number): boolean {
  const nr = syscallNumbers().copy_file_range;
  const off = stableBuffer(8);
  off.writeBigInt64LE(BigInt(offset));
  const offAt = addressOf(off);
  let done = 0;
  while (done < length) {
    const r = rawSyscall7(nr, fdIn, offAt, fdOut, 0, Math.min(length - done, 1 << 30), 0);
    if (r < 0) {
      if (done === 0 && FALL_BACK.has(-r)) return false;
      throw new SyscallError({ syscall: "copy_file_range", errno: -r, detail: `fd ${fdIn} to fd ${fdOut}` });
    }
    if (r === 0) throw new SyscallError({ syscall: "copy_file_range", errno: errnoNumber("EIO"), detail: `fd ${fdIn} ended ${length - done} bytes early` });
    done += r;
  }
  return true;
}
