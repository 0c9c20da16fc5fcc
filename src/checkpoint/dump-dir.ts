/**
 * The dump directory appears complete or not at all: images are written into
 * a temporary directory beside it (`.NAME.crtool-tmp-PID`) that is renamed to
 * NAME only at the end. A temporary directory left by a crtool that died is
 * recognised by that name and removed by the next dump to the same place.
 */
import { existsSync, fsyncSync, mkdirSync, openSync, closeSync, readdirSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { IoError } from "../images/errors.js";
import { onTerminate } from "../io/terminate.js";
import { fsReason, statIfThere } from "../io/fs-reason.js";

const TEMP = /^\.(.+)\.crtool-tmp-(\d+)$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class DumpDir {
  private done = false;
  private readonly unregister: () => void;

  private constructor(readonly final: string, readonly temp: string) {
    this.unregister = onTerminate(() => this.removeTemp());
  }

  /** Throws what prepare() would refuse `target` for, creating nothing (a caller with work to do before the dump checks first). */
  static check(target: string): void {
    const final = resolve(target);
    const parent = dirname(final);
    if (!statIfThere(parent, (why) => new IoError(`${parent}: ${why}`))) throw new IoError(`${parent}: no such directory (the dump directory's parent must exist)`);
    const there = statIfThere(final, (why) => new IoError(`${target}: ${why}`));
    if (there) {
      if (!there.isDirectory()) throw new IoError(`${target}: exists and is not a directory`);
      if (readdirSync(final).length > 0) throw new IoError(`${target}: directory is not empty; refusing to dump over it`);
    }
  }

  /** Checks the target, removes stale temporary directories, creates ours (0700). */
  static prepare(target: string): DumpDir {
    DumpDir.check(target);
    const final = resolve(target);
    const parent = dirname(final);
    const name = basename(final);
    let siblings: string[] = [];
    try {
      siblings = readdirSync(parent);
    } catch {
      // A parent that may be written but not listed (mode 0333): no stale directory of ours can be found there.
    }
    for (const entry of siblings) {
      const m = TEMP.exec(entry);
      if (m && m[1] === name && !alive(Number(m[2]))) rmSync(join(parent, entry), { recursive: true, force: true });
    }
    const temp = join(parent, `.${name}.crtool-tmp-${process.pid}`);
    // Only if there is one (a crtool with this pid that died): rmSync loads a module of its own.
    if (existsSync(temp)) rmSync(temp, { recursive: true, force: true });
    try {
      mkdirSync(temp, { mode: 0o700 });
    } catch (e) {
      throw new IoError(`${target}: cannot create the dump directory in ${parent}: ${fsReason(e)}`);
    }
    return new DumpDir(final, temp);
  }

  private removeTemp(): void {
    if (!this.done) rmSync(this.temp, { recursive: true, force: true });
  }

  /** Makes the dump visible at its final path. */
  commit(): void {
    fsyncDir(this.temp);
    if (existsSync(this.final)) rmdirSync(this.final); // checked empty in prepare()
    renameSync(this.temp, this.final);
    fsyncDir(dirname(this.final));
    this.done = true;
    this.unregister();
  }

  abort(): void {
    this.removeTemp();
    this.done = true;
    this.unregister();
  }
}
