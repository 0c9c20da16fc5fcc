/**
 * TTY: terminals CRIU's tty.c knows — Unix98 pty masters (/dev/ptmx) and
 * slaves (/dev/pts/N), virtual consoles (/dev/ttyN), /dev/console, /dev/tty
 * and USB/low-density serial ports.
 *
 * As CRIU: a REG entry for the device path (a new file id, regf_id), then
 * tty_file_entry {id, tty_info_id, flags, fown, regf_id}, and once per
 * terminal a tty_info_entry in tty-info.img: type, sid/pgrp, rdev, dev,
 * uid/gid, locked/exclusive/packet mode, termios, locked termios, winsize and,
 * for ptys, the index. tty_info_id is index*2 (+1 for a master), with fixed
 * indices for the non-pty kinds.
 *
 * Not per fd, so left to the orchestrator as CRIU's post-dump checks:
 * every pty slave has its master in the dump (or --shell-job), and /dev/tty
 * fds have their session's pty. Queued pty data (tty-data.img, which CRIU
 * takes by reading it out and writing it back) is not saved: a tty with
 * unread input is refused.
 */
import { fstatSync } from "node:fs";
import type { DumpContext } from "../contract/dump-context.js";
import type { TtyFileEntry, TtyInfoEntry, TtyType } from "../images/schema/types.js";
import { readStat } from "../kernel/index.js";
import { FD_TYPE_NUMBERS, type FdKind, type TaskFd } from "../contract/fd-kind.js";
import { dev32, major, minor } from "./dev.js";
import { isChr } from "./file-mode.js";
import { readFown } from "./fown.js";
import { toMessage } from "./message.js";
import { fileFlags } from "../kernel/index.js";
import { dumpRegFile } from "./reg-file.js";
import {
  TIOCGEXCL, TIOCGPGRP, TIOCGPKT, TIOCGPTLCK, TIOCGPTN, TIOCGSID,
  queuedInput, readTermios, readWinsize, ttyGetInt,
} from "./tty-params.js";
import { loseOrThrow, unsupported } from "./unsupported.js";

const TTY_TYPE = { PTY: 1, CONSOLE: 2, VT: 3, CTTY: 4, SERIAL: 6 } as const satisfies Record<string, TtyType>;

export interface TtyDriver {
  name: string;
  type: TtyType;
  master: boolean;
  /** Fixed tty_info index of non-pty drivers (tty.c CONSOLE_INDEX...). */
  index?: number;
}

const MAX_PTY_INDEX = 1000;
const PTM: TtyDriver = { name: "ptmx", type: TTY_TYPE.PTY, master: true };
const PTS: TtyDriver = { name: "pts", type: TTY_TYPE.PTY, master: false };
const CONSOLE: TtyDriver = { name: "console", type: TTY_TYPE.CONSOLE, master: false, index: 1002 };
const VT: TtyDriver = { name: "vt", type: TTY_TYPE.VT, master: false, index: 1004 };
const CTTY: TtyDriver = { name: "ctty", type: TTY_TYPE.CTTY, master: false, index: 1006 };
const SERIAL: TtyDriver = { name: "serial", type: TTY_TYPE.SERIAL, master: false, index: 1010 };

/** tty.c get_tty_driver: which terminal a character device number is, if any. */
export function ttyDriver(rdev: bigint): TtyDriver | undefined {
  const ma = major(rdev);
  const mi = minor(rdev);
  if (ma === 5) return mi === 2 ? PTM : mi === 1 ? CONSOLE : mi === 0 ? CTTY : undefined;
  if (ma === 4) return mi >= 1 && mi <= 63 ? VT : undefined;
  if (ma === 188 || ma === 204) return SERIAL;
  if (ma >= 128 && ma <= 135) return PTM;
  if (ma === 136) return PTS;
  return undefined;
}

function ttyIndex(fd: TaskFd, lfd: number, driver: TtyDriver): number {
  if (driver.index !== undefined) return driver.index;
  let index: number;
  if (driver.master) {
    const r = ttyGetInt(lfd, TIOCGPTN);
    if (r === "hangup") throw unsupported(fd, "TTY", "cannot read the pty index (TIOCGPTN: EIO)");
    index = r.value;
  } else {
    // The slave's index is its name under /dev/pts.
    const name = fd.link.kind === "path" ? fd.link.path : "";
    const m = /\/(\d+)$/.exec(name);
    if (!m) throw unsupported(fd, "TTY", `unexpected pty slave path ${JSON.stringify(name)}`);
    index = Number(m[1]);
  }
  if (index > MAX_PTY_INDEX) throw unsupported(fd, "TTY", `pty index ${index} is above CRIU's limit of ${MAX_PTY_INDEX}`);
  return index;
}

export const ttyKind: FdKind = {
  type: "TTY",
  field: "tty",
  detect(fd: TaskFd): boolean {
    return fd.link.kind === "path" && isChr(fd.stat.mode) && ttyDriver(fd.stat.rdev) !== undefined;
  },
  async dump(fd: TaskFd, id: number, ctx: DumpContext) {
    const lfd = ctx.grab(fd);
    const driver = ttyDriver(fd.stat.rdev);
    if (!driver) throw unsupported(fd, "TTY", "not a terminal CRIU knows");
    const index = ttyIndex(fd, lfd, driver);
    const infoId = (index << 1) + (driver.master ? 1 : 0);
    const flags = fileFlags(fd.fdinfo.flags);

    // Checked before anything is written, so a refusal leaves no half-dumped tty behind.
    const queued = queuedInput(lfd);
    if (queued > 0) loseOrThrow(ctx, fd, "TTY", `${queued} bytes of unread terminal input are not saved`);

    const regId = ctx.newFileId();
    const reg = await dumpRegFile(fd, regId, ctx, "TTY");
    ctx.addFile({ type: FD_TYPE_NUMBERS.REG, id: regId, reg: toMessage(reg) });

    await ctx.once(`tty-info:${infoId}`, async () => {
      ctx.image("tty-info.img", "TTY_INFO").append(toMessage(ttyInfo(fd, lfd, driver, infoId, index)));
    });
    const entry: TtyFileEntry = { id, tty_info_id: infoId, flags, fown: readFown(lfd, flags), regf_id: regId };
    return toMessage(entry);
  },
};

/**
 * The parasite's reads (parasite_dump_tty), in its order: TIOCGSID,
 * TIOCGPGRP, TIOCGEXCL, and for ptys TIOCGPKT and TIOCGPTLCK; ENOTTY reads
 * as 0, and the first EIO (a hung-up or pair-less tty) stops it, keeping
 * what was read before. The parasite asks from inside the task; crtool's
 * duplicate gets the same answers, except that a terminal other than a pty
 * master answers TIOCGSID/TIOCGPGRP only to its own session (ENOTTY to
 * crtool): there the task's /proc stat gives them — its session and tpgid
 * when the terminal is its controlling tty, else 0 as the task would get.
 */
type TtyState = "sid" | "pgrp" | "excl" | "pkt" | "lock";

function parasiteReads(fd: TaskFd, lfd: number, driver: TtyDriver): Record<TtyState, number> & { hangup: boolean } {
  const out = { sid: 0, pgrp: 0, excl: 0, pkt: 0, lock: 0, hangup: false };
  const ctty = driver.master ? undefined : cttySession(fd, driver);
  // [field, ioctl, the value crtool takes from /proc instead of the ioctl's ENOTTY]
  const steps: [TtyState, number, number | undefined][] = [
    ["sid", TIOCGSID, ctty?.sid],
    ["pgrp", TIOCGPGRP, ctty?.pgrp],
    ["excl", TIOCGEXCL, undefined],
  ];
  if (driver.type === TTY_TYPE.PTY) steps.push(["pkt", TIOCGPKT, undefined], ["lock", TIOCGPTLCK, undefined]);
  for (const [field, request, fromProc] of steps) {
    const r = ttyGetInt(lfd, request);
    if (r === "hangup") {
      out.hangup = true;
      break;
    }
    out[field] = fromProc ?? r.value;
  }
  return out;
}

/** The task's session and foreground group if this terminal is its controlling tty, else zeros. */
function cttySession(fd: TaskFd, driver: TtyDriver): { sid: number; pgrp: number } {
  const st = readStat(fd.pid);
  const ctty = BigInt(st.ttyNr);
  // /dev/tty is whatever the controlling tty is.
  const isCtty = st.ttyNr !== 0 && (driver === CTTY || (major(ctty) === major(fd.stat.rdev) && minor(ctty) === minor(fd.stat.rdev)));
  if (!isCtty) return { sid: 0, pgrp: 0 };
  return { sid: st.session, pgrp: st.tpgid > 0 ? st.tpgid : 0 };
}

function ttyInfo(fd: TaskFd, lfd: number, driver: TtyDriver, infoId: number, index: number): TtyInfoEntry {
  const st = fstatSync(lfd, { bigint: true });
  const p = parasiteReads(fd, lfd, driver);
  const info: TtyInfoEntry = {
    id: infoId,
    type: driver.type,
    locked: p.lock !== 0,
    exclusive: p.excl !== 0,
    packet_mode: p.pkt !== 0,
    sid: p.sid,
    pgrp: p.pgrp,
    rdev: dev32(st.rdev),
    dev: dev32(st.dev),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
  if (driver.type === TTY_TYPE.PTY) info.pty = { index };
  // A hung-up terminal: CRIU writes what it has, without termios and window size.
  if (p.hangup) return info;
  info.termios = readTermios(lfd, false);
  info.termios_locked = readTermios(lfd, true);
  info.winsize = readWinsize(lfd);
  return info;
}
