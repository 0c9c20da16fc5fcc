/** Errno names and the shape of SyscallError messages callers and the CLI rely on. */
import { describe, expect, it } from "vitest";
import {
  BatchError,
  BatchTooSmallError,
  NotSupportedError,
  SyscallError,
  errnoName,
  errnoNumber,
  errnoText,
  isErrno,
} from "../../src/kernel/index.js";
import { CrtoolError } from "../../src/images/errors.js";

describe("errno table", () => {
  it("names the common errnos", () => {
    const expected: [number, string][] = [
      [1, "EPERM"], [2, "ENOENT"], [3, "ESRCH"], [4, "EINTR"], [5, "EIO"], [9, "EBADF"], [11, "EAGAIN"],
      [12, "ENOMEM"], [13, "EACCES"], [14, "EFAULT"], [16, "EBUSY"], [17, "EEXIST"], [22, "EINVAL"],
      [28, "ENOSPC"], [7, "E2BIG"], [38, "ENOSYS"], [95, "EOPNOTSUPP"], [77, "EBADFD"], [524, "ENOTSUPP"],
    ];
    for (const [n, name] of expected) {
      expect(errnoName(n)).toBe(name);
      expect(errnoNumber(name as Parameters<typeof errnoNumber>[0])).toBe(n);
    }
    expect(errnoNumber("EWOULDBLOCK")).toBe(11);
    expect(errnoName(9999)).toBe("E9999");
    expect(errnoText(9999)).toBe("Unknown error 9999");
    expect(errnoText(2)).toBe("No such file or directory");
  });
});

describe("SyscallError", () => {
  it("reads like strerror with the call and the errno name", () => {
    const e = new SyscallError({ syscall: "bpf", operation: "BPF_MAP_CREATE", errno: 1 });
    expect(e.message).toBe("bpf(BPF_MAP_CREATE): Operation not permitted (EPERM)");
    expect(e.code).toBe("EPERM");
    expect(e.errno).toBe(1);
    expect(e.syscall).toBe("bpf");
    expect(e.operation).toBe("BPF_MAP_CREATE");
    expect(e).toBeInstanceOf(CrtoolError);
    expect(isErrno(e, "EPERM")).toBe(true);
    expect(isErrno(e, "ENOENT")).toBe(false);
    expect(isErrno(new Error("x"), "EPERM")).toBe(false);
  });

  it("appends detail after the errno", () => {
    const e = new SyscallError({ syscall: "close", errno: 9, detail: "fd 42" });
    expect(e.message).toBe("close: Bad file descriptor (EBADF); fd 42");
  });

  it("batch errors carry how far the kernel got", () => {
    const e = new BatchTooSmallError({ syscall: "bpf", operation: "BPF_MAP_LOOKUP_BATCH", errno: 28, count: 0, batchSize: 1 });
    expect(e).toBeInstanceOf(BatchError);
    expect(e).toBeInstanceOf(SyscallError);
    expect(e.code).toBe("ENOSPC");
    expect(e.count).toBe(0);
    expect(e.batchSize).toBe(1);
    expect(e.message).toMatch(/^bpf\(BPF_MAP_LOOKUP_BATCH\): No space left on device \(ENOSPC\); 0 elements processed; .*larger batch/);
  });

  it("NotSupportedError is the project's", () => {
    expect(new NotSupportedError("x").code).toBe("NOT_SUPPORTED");
  });
});
