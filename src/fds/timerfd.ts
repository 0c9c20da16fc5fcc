/**
 * TIMERFD (timerfd.c): timerfd_entry from fdinfo — clockid, ticks (expiries
 * not yet read), settime_flags, vsec/vnsec the time left until the next
 * expiry (it_value as the kernel shows it, already relative), isec/insec
 * the interval. CRIU accepts only the realtime, monotonic and boottime
 * clocks.
 *
 * Restore (timerfd.c timerfd_open + the restorer's timerfd_arm): a new
 * timer on the clock, the recorded flags and owner, then armed with the time
 * that was left and the interval — counted from the restore, as CRIU counts
 * from the end of its restore; with TFD_TIMER_ABSTIME (kept, as
 * TFD_TIMER_CANCEL_ON_SET needs it) the time left is added to the clock's
 * now. Expiries not yet read (ticks) are put back with TFD_IOC_SET_TICKS,
 * which needs a kernel with CONFIG_CHECKPOINT_RESTORE.
 */
import type { DumpContext } from "../contract/dump-context.js";
import { type TimerfdEntry, TimerfdEntrySchema } from "../images/schema/types.js";
import { O_CLOEXEC, isErrno, stableBuffer } from "../kernel/index.js";
import { isAnonInode } from "./anon-inode.js";
import type { RestorableFdKind, TaskFd } from "../contract/fd-kind.js";
import { readFown, restoreFown } from "./fown.js";
import { fromMessage, toMessage } from "./message.js";
import { fileFlags } from "../kernel/index.js";
import { cannotRestore, loseOrThrowOnRestore } from "./restore-errors.js";
import { finishFd, setStatusFlags } from "./restore-fd.js";
import { clockGettime, ioctl, timerfdCreate, timerfdSettime } from "../kernel/index.js";
import { unsupported } from "./unsupported.js";

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_BOOTTIME = 7;
const TFD_TIMER_ABSTIME = 1;
/** _IOW('T', 0, u64) */
const TFD_IOC_SET_TICKS = 0x40085400;
const NS = 1_000_000_000n;

function supportedClock(clockid: number): boolean {
  return clockid === CLOCK_REALTIME || clockid === CLOCK_MONOTONIC || clockid === CLOCK_BOOTTIME;
}

export const timerfdKind: RestorableFdKind = {
  type: "TIMERFD",
  field: "tfd",
  detect: (fd: TaskFd) => isAnonInode(fd, "timerfd"),
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const t = fd.fdinfo.timerfd;
    if (!t) throw unsupported(fd, "TIMERFD", "its fdinfo has no timer state");
    if (!supportedClock(t.clockid)) {
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
  restore(message, id, ctx) {
    const e = fromMessage(TimerfdEntrySchema, message);
    if (!supportedClock(e.clockid)) throw cannotRestore(id, "TIMERFD", `clock ${e.clockid} is not supported (CRIU restores realtime, monotonic and boottime timers)`);
    // TFD_CLOEXEC is O_CLOEXEC.
    const fd = timerfdCreate(e.clockid, O_CLOEXEC);
    return finishFd(fd, () => {
      setStatusFlags(fd, e.flags);
      restoreFown(fd, e.fown, e.flags, ctx, id, "TIMERFD");
      let value = e.vsec * NS + e.vnsec;
      const interval = e.isec * NS + e.insec;
      // A zero value leaves the timer disarmed (keeping the interval, as it was).
      if (value > 0n && e.settime_flags & TFD_TIMER_ABSTIME) value += clockGettime(e.clockid);
      if (value > 0n || interval > 0n) timerfdSettime(fd, e.settime_flags, { value, interval });
      if (e.ticks > 0n) {
        const ticks = stableBuffer(8);
        ticks.writeBigUInt64LE(e.ticks);
        try {
          ioctl(fd, TFD_IOC_SET_TICKS, ticks, `timerfd ${id}: TFD_IOC_SET_TICKS`);
        } catch (err) {
          if (!isErrno(err, "ENOTTY")) throw err;
          loseOrThrowOnRestore(ctx, id, "TIMERFD", `${e.ticks} expiries not yet read cannot be put back (the kernel has no TFD_IOC_SET_TICKS: CONFIG_CHECKPOINT_RESTORE is off)`);
        }
      }
    });
  },
};
