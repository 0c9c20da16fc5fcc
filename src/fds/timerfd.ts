/**
 * TIMERFD (timerfd.c): timerfd_entry from fdinfo — clockid, ticks (expiries
 * not yet read), settime_flags, vsec/vnsec the time left until the next
 * expiry (it_value as the kernel shows it, already relative), isec/insec
 * the interval. CRIU accepts only the realtime, monotonic and boottime
 * clocks.
 */
import type { DumpContext } from "../checkpoint/dump-context.js";
import type { TimerfdEntry } from "../images/schema/types.js";
import { isAnonInode } from "./anon-inode.js";
import type { FdKind, TaskFd } from "./fd-kind.js";
import { readFown } from "./fown.js";
import { toMessage } from "./message.js";
import { fileFlags } from "./open-flags.js";
import { unsupported } from "./unsupported.js";

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_BOOTTIME = 7;

export const timerfdKind: FdKind = {
  type: "TIMERFD",
  field: "tfd",
  detect: (fd: TaskFd) => isAnonInode(fd, "timerfd"),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const t = fd.fdinfo.timerfd;
    if (!t) throw unsupported(fd, "TIMERFD", "its fdinfo has no timer state");
    if (t.clockid !== CLOCK_REALTIME && t.clockid !== CLOCK_MONOTONIC && t.clockid !== CLOCK_BOOTTIME) {
      throw unsupported(fd, "TIMERFD", `clock ${t.clockid} is not supported (CRIU restores realtime, monotonic and boottime timers)`);
    }
    const flags = fileFlags(fd.fdinfo.flags);
    const entry: TimerfdEntry = {
      id,
      flags,
      fown: readFown(ctx.grab(fd), flags),
      clockid: t.clockid,
      ticks: t.ticks,
      settime_flags: t.settimeFlags,
      vsec: BigInt(t.itValue.sec),
      vnsec: BigInt(t.itValue.nsec),
      isec: BigInt(t.itInterval.sec),
      insec: BigInt(t.itInterval.nsec),
    };
    return toMessage(entry);
  },
};
