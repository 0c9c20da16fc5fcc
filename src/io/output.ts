/**
 * Output that is all-or-nothing: a file is written under a temporary name in
 * the same directory and renamed over the target only when complete, so a
 * failed or interrupted command never leaves a half-written file.
 *
 * Writes are synchronous: files and (on Linux) pipes are written that way by
 * Node anyway, and it spares a promise per chunk.
 */
import { closeSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { IoError } from "../images/errors.js";
import { fsReason, statIfThere } from "./fs-reason.js";
import { exitAfterCleanup, onTerminate } from "./terminate.js";

export interface Output {
  write(data: string | Uint8Array): void;
  /** Completes the output (renames a temporary file into place). */
  commit(): Promise<void>;
  /** Abandons the output (removes a temporary file). */
  abort(): Promise<void>;
}

function ioError(e: unknown, what: string): IoError {
  return new IoError(`${what}: ${fsReason(e)}`);
}

/** Text up to this many UTF-16 units is encoded into one reused buffer (at most 3 bytes each). */
const SCRATCH_UNITS = 1 << 18;
let scratch: Buffer | undefined;

/**
 * A string's UTF-8 bytes, in a buffer reused by every write: writes are
 * synchronous, and a fresh buffer per chunk costs its page faults again.
 */
function utf8Bytes(text: string): Uint8Array {
  if (text.length > SCRATCH_UNITS) return Buffer.from(text, "utf8");
  scratch ??= Buffer.allocUnsafeSlow(3 * SCRATCH_UNITS);
  return scratch.subarray(0, scratch.write(text, 0, "utf8"));
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const bytes = typeof data === "string" ? utf8Bytes(data) : data;
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      // A non-blocking stdout (a terminal or socket) can be momentarily full.
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") continue;
      throw e;
    }
  }
}

/**
 * Text to standard output or error by a write(2) on fd 1 or 2. process.stdout
 * and process.stderr on a pipe are net.Socket streams whose first use loads
 * Node's net and stream modules (~6 ms of a command's start-up); a closed
 * stdout (EPIPE: `| head`) ends the command quietly, as the stream's handler does.
 */
export function writeStdout(text: string): void {
  try {
    writeAll(1, text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EPIPE") exitAfterCleanup(0);
    throw e;
  }
}

export function writeStderr(text: string): void {
  try {
    writeAll(2, text);
  } catch {
    // Nowhere left to report to.
  }
}

class StdoutOutput implements Output {
  write(data: string | Uint8Array): void {
    writeAll(1, data);
  }
  async commit(): Promise<void> {}
  async abort(): Promise<void> {}
}

/** Standard output. Nothing to roll back there; a closed pipe (EPIPE) ends the command quietly. */
export function stdoutOutput(): Output {
  return new StdoutOutput();
}

class AtomicFileOutput implements Output {
  private fd: number;
  private done = false;
  private readonly unregister: () => void;

  constructor(private readonly target: string, private readonly temp: string, mode: number) {
    try {
      this.fd = openSync(temp, "wx", mode);
    } catch (e) {
      // Said of the file asked for: the temporary name beside it is crtool's own business.
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === "ENOENT" || code === "ENOTDIR") && !statIfThere(dirname(target), (why) => new IoError(`${target}: ${why}`))?.isDirectory()) {
        throw new IoError(`${target}: no such directory: ${dirname(target)}`);
      }
      if (code === "ENOENT") throw new IoError(`${target}: cannot create a file in ${dirname(target)}`); // procfs, sysfs
      throw ioError(e, target);
    }
    this.unregister = onTerminate(() => this.removeTemp());
  }

  private removeTemp(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(this.temp);
    } catch {
      /* already gone */
    }
  }

  write(data: string | Uint8Array): void {
    try {
      writeAll(this.fd, data);
    } catch (e) {
      throw ioError(e, this.target);
    }
  }

  async commit(): Promise<void> {
    if (this.done) return;
    try {
      closeSync(this.fd);
      renameSync(this.temp, this.target);
      this.done = true;
      this.unregister();
    } catch (e) {
      await this.abort();
      throw ioError(e, this.target);
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.removeTemp();
    this.unregister();
  }
}

/** The temporary name an output to `path` is written under until it is complete. */
export function temporaryNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.crtool-${process.pid}.tmp`);
}

/**
 * A device, FIFO or socket named by -o (/dev/null, /dev/stdout, a named
 * pipe): written in place, as crit does. Renaming a file over it would
 * replace the device itself.
 */
class SpecialFileOutput implements Output {
  private fd: number | undefined;

  constructor(private readonly target: string) {
    try {
      this.fd = openSync(target, "w");
    } catch (e) {
      throw ioError(e, target);
    }
  }

  write(data: string | Uint8Array): void {
    try {
      writeAll(this.fd!, data);
    } catch (e) {
      throw ioError(e, this.target);
    }
  }

  async commit(): Promise<void> {
    this.close();
  }

  async abort(): Promise<void> {
    this.close();
  }

  private close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * A file written atomically (temporary name + rename); through a symbolic
 * link, the file it points to (the link stays). Anything but a regular file
 * (a device such as /dev/null, a FIFO) is written in place.
 */
export async function fileOutput(path: string, mode = 0o644): Promise<Output> {
  let target = path;
  try {
    if (!statSync(path).isFile()) return new SpecialFileOutput(path);
    target = realpathSync(path);
  } catch (e) {
    if (e instanceof IoError) throw e; // the device's own open, said already
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") throw ioError(e, path);
  }
  return new AtomicFileOutput(target, temporaryNameFor(target), mode);
}

/** `-o PATH` if given, else stdout. */
export function openOutput(path: string | undefined, mode?: number): Promise<Output> {
  return path ? fileOutput(path, mode) : Promise.resolve(stdoutOutput());
}
