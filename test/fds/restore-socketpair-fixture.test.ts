/**
 * Restoring the socketpair of the CRIU 4.2 fds-zoo fixture from CRIU's own
 * images: fds 11 and 12 (files 15 and 16), a SOCK_STREAM pair with 14 bytes
 * queued for fd 11 ("reply from sp1") and 27 for fd 12 ("hello from
 * sp0|second write", two writes CRIU saved as one packet); and the fixture's
 * abstract-bound dgram socket (fd 13), which crtool refuses. Needs no root
 * (without CAP_NET_ADMIN the buffer sizes go in through plain SO_SNDBUF /
 * SO_RCVBUF), but for the unix_diag check.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fstatSync } from "node:fs";
import { join } from "node:path";
import type { ImageMessage } from "../../src/images/wire/message.js";
import { NotSupportedError } from "../../src/images/errors.js";
import { closeQuietly } from "../../src/fds/restore-fd.js";
import { unixSocketKind } from "../../src/fds/socket-unix.js";
import { getsockoptInt, sendmsg } from "../../src/kernel/index.js";
import { withDiagSocketFor } from "../../src/fds/sock-diag/netns.js";
import { unixDiagByIno } from "../../src/fds/sock-diag/unix-diag.js";
import { MSG_DONTWAIT, SOL_SOCKET, SO_RCVBUF, SO_SNDBUF, SO_TYPE } from "../../src/fds/sock-diag/constants.js";
import { HAVE_ZOO, IS_ROOT, ZOO } from "./helpers.js";
import { TestRestoreContext, fileFlagsOf, openFds, drain } from "./restore-helpers.js";

const reason = HAVE_ZOO ? undefined : `the fds-zoo fixture is not at ${ZOO} (set CRTOOL_FIXTURES)`;
if (reason) console.warn(`skipping the fds-zoo socketpair restore test: ${reason}`);
else if (!IS_ROOT) console.warn("skipping the fds-zoo socketpair unix_diag check: not running as root (SIOCGSKNS needs CAP_NET_ADMIN)");

const IMAGES = join(ZOO, "images");
const PID = 31397;

describe.skipIf(reason)("CRIU 4.2 fds-zoo images: the unix stream socketpair (fds 11, 12)", () => {
  let ctx: TestRestoreContext;
  let fdsBefore: number;
  /** crtool's restored fd by the task's fd number. */
  const ours = new Map<number, number>();

  async function restore(taskFd: number): Promise<number> {
    const id = ctx.fileIdOfFd(taskFd)!;
    const { fd } = await unixSocketKind.restore(ctx.fileEntry(id)!.usk as ImageMessage, id, ctx);
    ctx.onRollback(() => closeQuietly(fd));
    return fd;
  }

  beforeAll(async () => {
    fdsBefore = openFds().length;
    ctx = await TestRestoreContext.open(IMAGES, PID);
    expect([ctx.fileIdOfFd(11), ctx.fileIdOfFd(12)]).toEqual([15, 16]);
    for (const fd of [11, 12]) ours.set(fd, await restore(fd));
  });

  afterAll(() => {
    ctx?.rollback();
    expect(openFds().length).toBe(fdsBefore);
  });

  it("both ends: stream sockets, O_RDWR without O_NONBLOCK, CRIU's buffer sizes, one socketpair", () => {
    const [a, b] = [ours.get(11)!, ours.get(12)!];
    for (const fd of [a, b]) {
      expect(getsockoptInt(fd, SOL_SOCKET, SO_TYPE)).toBe(1);
      expect(fileFlagsOf(fd)).toBe(2);
      expect(getsockoptInt(fd, SOL_SOCKET, SO_SNDBUF)).toBe(212992);
      expect(getsockoptInt(fd, SOL_SOCKET, SO_RCVBUF)).toBe(212992);
    }
    // One socketpair for both files.
    expect(ctx.logs.filter((l) => l.includes("(UNIXSK): stream socketpair"))).toEqual([
      "files 15 and 16 (UNIXSK): stream socketpair, 1 packets (14 bytes) queued for file 15, 1 (27 bytes) for file 16",
    ]);
  });

  // unix_diag is asked in the socket's network namespace (SIOCGSKNS needs CAP_NET_ADMIN).
  it.skipIf(!IS_ROOT)("unix_diag: each restored end is the other's peer (root only)", () => {
    const [a, b] = [ours.get(11)!, ours.get(12)!];
    const inoA = fstatSync(a).ino;
    const inoB = fstatSync(b).ino;
    expect(withDiagSocketFor(a, (diag) => unixDiagByIno(diag, inoA))?.peer).toBe(inoB);
    expect(withDiagSocketFor(b, (diag) => unixDiagByIno(diag, inoB))?.peer).toBe(inoA);
  });

  it("the queues: 27 bytes for fd 12, 14 for fd 11, in order; then each end reaches the other", () => {
    const [fd11, fd12] = [ours.get(11)!, ours.get(12)!];
    expect(drain(fd12)).toEqual({ reads: ["hello from sp0|second write"], end: "EAGAIN" });
    expect(drain(fd11)).toEqual({ reads: ["reply from sp1"], end: "EAGAIN" });
    expect(sendmsg(fd11, Buffer.from("to 12"), undefined, MSG_DONTWAIT)).toBe(5);
    expect(sendmsg(fd12, Buffer.from("to 11!"), undefined, MSG_DONTWAIT)).toBe(6);
    expect(drain(fd12).reads).toEqual(["to 12"]);
    expect(drain(fd11).reads).toEqual(["to 11!"]);
  });

  it("refuses the abstract-bound dgram socket (fd 13), naming it", async () => {
    const id = ctx.fileIdOfFd(13)!;
    const before = openFds().length;
    const err = await restore(13).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as Error).message).toBe(
      `file ${id} (UNIXSK): unix dgram socket 60614 (abstract name "@fixtures-zoo-dgram"): it is bound to abstract name "@fixtures-zoo-dgram"; crtool restores only unnamed socketpairs, not bound sockets`,
    );
    expect(openFds().length).toBe(before);
  });
});
