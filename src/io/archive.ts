/**
 * A checkpoint as one stream: a tar of the dump directory's images (gzip or
 * zstd compressed when asked), so a checkpoint moves through a pipe (`crtool
 * dump --archive - | ssh host crtool restore --archive - ...`) and is stored
 * as one file. The last member is a manifest naming every image and its
 * size: an archive cut short (an interrupted stream) has none, or one that
 * does not match, and is refused before anything is restored.
 *
 * Compression is chosen by name when writing (.tar.gz/.tgz, .tar.zst) and
 * by magic when reading. zstd runs as Debian's `zstd` program (Node 20's
 * zlib has no zstd).
 */
import { spawn, spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, type Writable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import tar from "tar-stream";
import { CrtoolError, IoError, NotSupportedError } from "../images/errors.js";
import { onTerminate } from "./terminate.js";
import { statIfThere } from "./fs-reason.js";

/** The manifest's member name (last in the archive). */
export const MANIFEST = "crtool-archive.json";

export type Compression = "none" | "gzip" | "zstd";

interface Manifest {
  format: "crtool-checkpoint";
  version: 1;
  files: { name: string; size: number }[];
}

/** The compression a file name asks for. */
export function compressionFor(name: string): Compression {
  if (/\.(tar\.gz|tgz)$/i.test(name)) return "gzip";
  if (/\.(tar\.zst|tzst)$/i.test(name)) return "zstd";
  return "none";
}

/** Names of archives and compressions crtool does not write, which a plain tar must not be given. */
const FOREIGN = /\.(zip|7z|rar|jar|cpio|xz|txz|lzma|lz|lz4|bz2|tbz2?|z|gz|zst)$/i;

/**
 * The compression of the archive `path` asks for, once it is known that one
 * can be written there: a directory, a missing parent directory, another
 * format's name (a plain tar called .zip or .xz would look like one) or a
 * .tar.zst without the zstd program are refused before any work is done,
 * not after a whole dump.
 */
export function checkArchiveTarget(path: string): Compression {
  if (path === "-") return "none";
  const compression = compressionFor(path);
  const foreign = compression === "none" ? FOREIGN.exec(path) : null;
  if (foreign) {
    throw new NotSupportedError(`${path}: crtool writes tar archives, named .tar, .tar.gz (.tgz) or .tar.zst (.tzst), not ${foreign[0]}`);
  }
  const unreadable = (why: string) => new IoError(`${path}: ${why}`);
  const parent = statIfThere(dirname(path), unreadable);
  if (!parent) throw new IoError(`${path}: no such directory: ${dirname(path)}`);
  if (!parent.isDirectory()) throw new IoError(`${path}: not a directory: ${dirname(path)}`);
  if (statIfThere(path, unreadable)?.isDirectory()) throw new IoError(`${path}: is a directory, not an archive file`);
  if (compression === "zstd" && spawnSync("zstd", ["--version"], { stdio: "ignore" }).error) {
    throw new NotSupportedError(`${path}: zstd archives need the zstd program (Debian: apt-get install zstd)`);
  }
  return compression;
}

/** The zstd program as a filter: write to `input`, read from `output`; `done` settles when it exits. */
function zstd(args: string[]): { input: Writable; output: Readable; done: Promise<void> } {
  const child = spawn("zstd", ["-q", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.once("error", (e: NodeJS.ErrnoException) =>
      reject(e.code === "ENOENT" ? new NotSupportedError("zstd archives need the zstd program (Debian: apt-get install zstd)") : new IoError(`zstd: ${e.message}`)),
    );
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new IoError(`zstd: ${err.trim() || `exit status ${code}`}`))));
  });
  // Awaited later by whoever needs it; the stream errors it causes may be reported first.
  done.catch(() => {});
  return { input: child.stdin, output: child.stdout, done };
}

/** Writes the images of `dir` (a dump directory) as an archive to `out`. */
export async function writeArchive(dir: string, out: Writable, compression: Compression): Promise<void> {
  const names = readdirSync(dir).filter((n) => statSync(join(dir, n)).isFile()).sort();
  const pack = tar.pack();
  const manifest: Manifest = { format: "crtool-checkpoint", version: 1, files: [] };
  const feed = (async () => {
    for (const name of names) {
      const size = statSync(join(dir, name)).size;
      const entry = pack.entry({ name, size, mode: 0o600, mtime: new Date(0) });
      await pipeline(createReadStream(join(dir, name)), entry);
      manifest.files.push({ name, size });
    }
    pack.entry({ name: MANIFEST, mode: 0o600, mtime: new Date(0) }, JSON.stringify(manifest) + "\n");
    pack.finalize();
  })();
  let compressed: Promise<void>;
  if (compression === "gzip") compressed = pipeline(pack, createGzip(), out);
  else if (compression === "zstd") {
    const z = zstd(["-c"]);
    compressed = Promise.all([pipeline(pack, z.input), pipeline(z.output, out), z.done]).then(() => undefined);
  } else compressed = pipeline(pack, out);
  await Promise.all([feed, compressed]);
}

/** The first bytes of a stream, put back in front of it. */
async function sniff(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let have = 0;
  // Leaving the loop must not end the stream: the rest is read after the head.
  for await (const chunk of input.iterator({ destroyOnReturn: false })) {
    chunks.push(chunk as Buffer);
    have += (chunk as Buffer).length;
    if (have >= n) break;
  }
  const head = Buffer.concat(chunks);
  const rest = Readable.from(
    (async function* () {
      yield head;
      yield* input;
    })(),
  );
  return { head: head.subarray(0, n), stream: rest };
}

/**
 * Unpacks an archive from `input` into `dir` (created, empty): only plain
 * files with plain names. Throws IoError, having checked everything, when
 * the archive is not one of crtool's, is cut short, or does not match its
 * manifest.
 */
/** The tar stream inside `input`: gunzipped or unzstd-ed when its first bytes say so. */
/**
 * The tar stream inside `input` (plain, gzip or zstd, told by its first
 * bytes), as a stream of archive members; a damaged or cut archive fails
 * the iteration with an IoError naming `what`.
 */
export async function* tarMembers(input: Readable, what: string): AsyncGenerator<{ name: string; size: number; body: Readable }> {
  const { tar: stream, done } = await decompress(input, what);
  const extract = tar.extract();
  const piped = Promise.all([pipeline(stream, extract), done]);
  piped.catch(() => {});
  try {
    for await (const entry of extract) {
      const e = entry as unknown as Readable & { header: { name: string; size?: number; type: string } };
      e.on("error", () => {});
      if (e.header.type !== "file") {
        e.resume();
        continue;
      }
      yield { name: e.header.name, size: e.header.size ?? 0, body: e };
    }
    await piped;
  } catch (e) {
    if (e instanceof IoError || e instanceof NotSupportedError) throw e;
    throw new IoError(`${what}: not a complete archive (${(e as Error).message})`);
  }
}

async function decompress(input: Readable, what: string): Promise<{ tar: Readable; done?: Promise<void> }> {
  const { head, stream } = await sniff(input, 4);
  if (head.length === 0) throw new IoError(`${what}: empty`);
  if (head[0] === 0x1f && head[1] === 0x8b) return { tar: stream.pipe(createGunzip()) };
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) {
    const z = zstd(["-d", "-c"]);
    stream.pipe(z.input);
    return { tar: z.output, done: z.done };
  }
  return { tar: stream };
}

/**
 * The image name a member of a container checkpoint archive (Podman,
 * CRI-O: the images under checkpoint/, stats-dump at the top) stands for,
 * or undefined for the engine's other files.
 */
export function containerImageName(member: string): string | undefined {
  const n = member.replace(/^\.\//, "");
  const name = n.startsWith("checkpoint/") ? n.slice("checkpoint/".length) : /^[^/]+\.img$/.test(n) || n === "stats-dump" ? n : undefined;
  return name && /^[A-Za-z0-9._-]+$/.test(name) && name !== "." && name !== ".." ? name : undefined;
}

export interface ExtractOptions {
  /**
   * Also a container engine's checkpoint archive, with no crtool manifest:
   * its images are taken, its other files skipped (for reading; restore
   * wants a crtool archive, checked against its manifest).
   */
  containers?: boolean;
}

export async function extractArchive(input: Readable, dir: string, what: string, opts: ExtractOptions = {}): Promise<void> {
  const { tar: tarStream, done: zdone } = await decompress(input, what);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const extract = tar.extract();
  const seen = new Map<string, number>();
  let manifest: Manifest | undefined;
  /**
   * Members' files not closed yet: an extraction that fails closes them and
   * waits, so that the caller's removal of `dir` does not race a file still
   * being created in it (ENOTEMPTY).
   */
  const unclosed = new Set<WriteStream>();
  extract.on("entry", (header, body, next) => {
    // An archive cut short fails the member being read and the whole extraction: reported once, by the latter.
    body.on("error", () => {});
    let name = header.name;
    if (opts.containers && name !== MANIFEST) {
      const image = header.type === "file" ? containerImageName(name) : undefined;
      if (image === undefined) {
        body.resume();
        next();
        return;
      }
      name = image;
    }
    const bad = header.type !== "file" || !/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..";
    if (bad) {
      body.resume();
      extract.destroy(new IoError(`${what}: member ${JSON.stringify(name)} is not a checkpoint image (crtool archives hold plain files only)`));
      return;
    }
    if (name === MANIFEST) {
      const parts: Buffer[] = [];
      body.on("data", (d: unknown) => parts.push(d as Buffer));
      body.on("end", () => {
        try {
          manifest = JSON.parse(Buffer.concat(parts).toString("utf8")) as Manifest;
        } catch {
          extract.destroy(new IoError(`${what}: its manifest is not valid JSON`));
          return;
        }
        next();
      });
      return;
    }
    const file: WriteStream = createWriteStream(join(dir, name), { mode: 0o600 });
    unclosed.add(file);
    file.once("close", () => unclosed.delete(file));
    let size = 0;
    body.on("data", (d: unknown) => (size += (d as Buffer).length));
    pipeline(body, file).then(
      () => {
        seen.set(name, size);
        next();
      },
      (e: Error) => extract.destroy(new IoError(`${what}: ${e.message}`)),
    );
  });
  try {
    await pipeline(tarStream, extract);
    if (zdone) await zdone;
  } catch (e) {
    // The member being written when the archive failed is closed (destroyed if need be) before the caller cleans up.
    await Promise.all(
      [...unclosed].map((file) => {
        const closed = new Promise<void>((resolve) => file.once("close", () => resolve()));
        file.destroy();
        return closed;
      }),
    );
    if (e instanceof IoError || e instanceof NotSupportedError) throw e;
    throw new IoError(`${what}: not a complete checkpoint archive (${(e as Error).message})`);
  }
  if (opts.containers && !manifest) {
    // Else the reader would be told its own temporary directory is no dump.
    if (seen.size === 0) throw new IoError(`${what}: no checkpoint images in it (a container checkpoint has them under checkpoint/)`);
    return;
  }
  if (!manifest || manifest.format !== "crtool-checkpoint") {
    throw new IoError(`${what}: the archive ends without its manifest (${MANIFEST}): cut short, or not made by crtool dump --archive`);
  }
  for (const f of manifest.files) {
    if (seen.get(f.name) !== f.size) throw new IoError(`${what}: ${f.name} should hold ${f.size} bytes, the archive has ${seen.get(f.name) ?? "none"}`);
  }
}

/** A dump directory to read: the directory itself, or an archive (a file, or "-" for stdin) unpacked into a private one. */
export interface CheckpointDir {
  dir: string;
  /** Removes the unpacked copy (nothing for a directory). */
  cleanup(): void;
  /**
   * An error about the unpacked copy, said of the archive the user gave
   * ("ckpt.tar:files.img, offset 0: ..."), not of crtool's private
   * directory; anything else as it is.
   */
  named(e: unknown): unknown;
}

/** `e` (a crtool error) with every mention of the private directory `dir` put as `shown`. */
function namedAfter(e: unknown, dir: string, shown: string): unknown {
  if (!(e instanceof CrtoolError) || !e.message.includes(dir)) return e;
  const swap = (text: string) => text.split(`${dir}/`).join(`${shown}:`).split(dir).join(shown);
  const copy = Object.create(Object.getPrototypeOf(e) as object) as CrtoolError;
  return Object.assign(copy, e, { message: swap(e.message), reason: swap(e.reason), location: { ...e.location, ...(e.location.file !== undefined ? { file: swap(e.location.file) } : {}) } });
}

/**
 * `path` as a dump directory: a directory as it is; a file or "-" (stdin)
 * taken as an archive and unpacked, checked whole, into a private directory
 * that cleanup() (and SIGINT/SIGTERM) removes.
 */
export async function openCheckpoint(path: string, opts: ExtractOptions = {}): Promise<CheckpointDir> {
  if (path !== "-") {
    const st = statIfThere(path, (why) => new IoError(`${path}: ${why}`));
    if (!st) throw new IoError(`${path}: no such directory or archive`);
    if (st.isDirectory()) return { dir: path, cleanup: () => {}, named: (e) => e };
  }
  const tmp = mkdtempSync(join(tmpdir(), "crtool-archive-"));
  const remove = () => rmSync(tmp, { recursive: true, force: true });
  const unregister = onTerminate(remove);
  const cleanup = () => {
    remove();
    unregister();
  };
  try {
    const input = path === "-" ? process.stdin : createReadStream(path);
    await extractArchive(input, join(tmp, "dump"), path === "-" ? "<stdin>" : path, opts);
  } catch (e) {
    cleanup();
    throw e;
  }
  const dir = join(tmp, "dump");
  return { dir, cleanup, named: (e) => namedAfter(e, dir, path === "-" ? "<stdin>" : path) };
}

/**
 * Writes the dump directory `dir` as an archive to `path` ("-": stdout), the
 * file all or nothing (a temporary name, renamed when complete).
 */
export async function saveArchive(dir: string, path: string): Promise<void> {
  if (path === "-") return writeArchive(dir, process.stdout, "none");
  const tmp = `${path}.crtool-tmp-${process.pid}`;
  const unregister = onTerminate(() => rmSync(tmp, { force: true }));
  try {
    await writeArchive(dir, createWriteStream(tmp, { mode: 0o600 }), compressionFor(path));
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e instanceof IoError || e instanceof NotSupportedError ? e : new IoError(`${path}: ${(e as Error).message}`);
  } finally {
    unregister();
  }
}
