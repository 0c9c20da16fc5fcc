/**
 * Positional reads of an image's payload bytes (pread), so a map's keys and
 * values are read chunk by chunk, never held whole.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { IoError, TruncatedImageError } from "../../images/errors.js";

export class PayloadFile {
  private fd: number;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, "r");
    } catch (e) {
      throw new IoError(`${path}: ${(e as Error).message}`);
    }
  }

  /** Fills `buf` from `position`; a short file is a truncated image. */
  readAt(buf: Uint8Array, position: number): void {
    let done = 0;
    while (done < buf.byteLength) {
      let n: number;
      try {
        n = readSync(this.fd, buf, done, buf.byteLength - done, position + done);
      } catch (e) {
        throw new IoError(`${this.path}: ${(e as Error).message}`);
      }
      if (n === 0) {
        throw new TruncatedImageError(`expected ${buf.byteLength} payload bytes at offset ${position}, the file ends after ${done}`, { file: this.path, offset: position + done });
      }
      done += n;
    }
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
