/** Opening images and JSON from files or standard input. */
import { closeSync, fstatSync, openSync, readSync, statSync, promises as fsp } from "node:fs";
import { IoError } from "../images/errors.js";
import { fsReason } from "./fs-reason.js";
import { ImageReader } from "../images/image-reader.js";
import type { SkippableSource } from "../images/wire/input.js";

/** 256 KiB: larger chunks are fresh memory each time (page faults cost more than the extra reads). */
const CHUNK = 1 << 18;

/** The file is the error's location, so that a caller naming its directory does not name it again. */
function openError(path: string, e: unknown): IoError {
  const err = e as NodeJS.ErrnoException;
  return new IoError(err.code === "ENOENT" ? "no such file" : fsReason(e), { file: path });
}

/**
 * Chunks of a regular file, read synchronously by position: for local files
 * this is faster than a stream (no thread-pool round trip per chunk) and the
 * reads are what the caller waits for anyway. A skipped payload is not read
 * (skipAhead).
 */
class FileChunks implements SkippableSource {
  private position = 0;

  constructor(private readonly fd: number, private readonly path: string) {}

  skipAhead(n: number): void {
    this.position += n;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const buf = new Uint8Array(CHUNK);
        let n: number;
        try {
          n = readSync(this.fd, buf, 0, CHUNK, this.position);
        } catch (e) {
          throw openError(this.path, e);
        }
        if (n === 0) return;
        this.position += n;
        yield n === CHUNK ? buf : buf.subarray(0, n);
      }
    } finally {
      closeSync(this.fd);
    }
  }
}

/** Bytes of a file (checked to exist first), or of stdin when path is undefined. */
export async function openInputStream(path: string | undefined): Promise<AsyncIterable<Uint8Array>> {
  if (path === undefined) return process.stdin;
  let fd: number;
  try {
    fd = openSync(path, "r");
    if (fstatSync(fd).isDirectory()) {
      closeSync(fd);
      throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    }
  } catch (e) {
    throw openError(path, e);
  }
  return new FileChunks(fd, path);
}

export function inputName(path: string | undefined): string {
  return path ?? "<stdin>";
}

/** Opens an image file (or stdin) and reads its header. */
export async function openImage(path: string | undefined): Promise<ImageReader> {
  const stream = await openInputStream(path);
  const size = path === undefined ? undefined : fileSize(path);
  return ImageReader.open(stream, { name: inputName(path), size });
}

/** The size of a regular file (undefined for pipes, devices...). */
function fileSize(path: string): number | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a whole small image file into memory; undefined if it does not exist. */
export async function readFileIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await fsp.readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw openError(path, e);
  }
}
