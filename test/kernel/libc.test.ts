/** The plain libc calls: pipes, tee, dup, fcntl, kcmp, error reporting. */
import { afterEach, describe, expect, it } from "vitest";
import { fstatSync } from "node:fs";
import {
  FD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  KCMP,
  O_CLOEXEC,
  O_NONBLOCK,
  SPLICE_F_NONBLOCK,
  SyscallError,
  close,
  dup,
  fcntl,
  getpid,
  gettid,
  kcmp,
  pipe2,
  read,
  sameOpenFile,
  tee,
  write,
} from "../../src/kernel/index.js";
import { FdSet } from "./helpers.js";

const fds = new FdSet();
afterEach(() => fds.closeAll());

describe("libc", () => {
  it("getpid/gettid are this process's", () => {
    expect(getpid()).toBe(process.pid);
    expect(gettid()).toBeGreaterThan(0);
  });

  it("pipe2 + write + tee + read: tee copies without consuming", () => {
    const [r1, w1] = pipe2(O_CLOEXEC).map((fd) => fds.add(fd));
    const [r2, w2] = pipe2(O_CLOEXEC | O_NONBLOCK).map((fd) => fds.add(fd));
    expect(write(w1, Buffer.from("hello pipe"))).toBe(10);
    expect(tee(r1, w2, 1 << 16, SPLICE_F_NONBLOCK)).toBe(10);
    const out = Buffer.alloc(32);
    expect(read(r2, out)).toBe(10);
    expect(out.toString("utf8", 0, 10)).toBe("hello pipe");
    expect(read(r1, out, 4, 5)).toBe(5);
    expect(out.toString("utf8", 4, 9)).toBe("hello");
    expect(fcntl(r2, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(fcntl(r1, F_GETFD) & FD_CLOEXEC).toBe(FD_CLOEXEC);
    // Nothing left in the non-blocking pipe: EAGAIN, as a typed error.
    expect(() => read(r2, out)).toThrow(expect.objectContaining({ code: "EAGAIN", syscall: "read" }));
  });

  it("dup gives the same open file; kcmp tells", () => {
    const [r, w] = pipe2(O_CLOEXEC).map((fd) => fds.add(fd));
    const d = fds.add(dup(r));
    expect(fstatSync(d).ino).toBe(fstatSync(r).ino);
    expect(sameOpenFile(process.pid, r, process.pid, d)).toBe(true);
    expect(sameOpenFile(process.pid, r, process.pid, w)).toBe(false);
    expect(kcmp(process.pid, process.pid, KCMP.FILES)).toBe(0);
  });

  it("errors are SyscallErrors with the errno name", () => {
    let err: unknown;
    try {
      close(-1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).code).toBe("EBADF");
    expect((err as SyscallError).message).toBe("close: Bad file descriptor (EBADF); fd -1");
  });

  it("refuses ranges outside the buffer instead of letting the kernel write there", () => {
    expect(() => read(0, Buffer.alloc(4), 2, 4)).toThrow(RangeError);
  });
});
