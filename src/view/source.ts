/**
 * Where the page's checkpoint comes from: crtool view's server (files read
 * by HTTP Range, so a large image is fetched only in the pieces shown) or
 * files dropped onto the page (read by Blob slices, never whole).
 */
import { TarIndexError, tarMembersOfBlob, tarMembersOfStream } from "./tar.js";

export interface SourceFile {
  name: string;
  size: number;
}

export interface CheckpointSource {
  /** What the page calls the checkpoint (a path, an archive's name). */
  title: string;
  files: SourceFile[];
  /** Bytes [start, end) of a file (the whole file without a range). */
  read(name: string, start?: number, end?: number): Promise<Uint8Array>;
  /** The file as a stream of chunks (for images read once, front to back). */
  stream(name: string): Promise<ReadableStream<Uint8Array>>;
}

export class SourceError extends Error {}

/** The checkpoint crtool view serves: /api/checkpoint lists it, /files/NAME serves each file with Range. */
export async function serverSource(base: URL): Promise<CheckpointSource | undefined> {
  let listing: { title: string; files: SourceFile[] };
  try {
    const r = await fetch(new URL("api/checkpoint", base));
    if (!r.ok) return undefined;
    listing = (await r.json()) as { title: string; files: SourceFile[] };
  } catch {
    // Opened from a file:// URL or with no server: the page takes dropped files instead.
    return undefined;
  }
  const url = (name: string) => new URL(`files/${encodeURIComponent(name)}`, base);
  return {
    title: listing.title,
    files: listing.files,
    async read(name, start, end) {
      const headers: Record<string, string> = {};
      if (start !== undefined) headers.Range = `bytes=${start}-${end === undefined ? "" : end - 1}`;
      const r = await fetch(url(name), { headers });
      if (!r.ok) throw new SourceError(`${name}: the server answered ${r.status} ${r.statusText}`);
      return new Uint8Array(await r.arrayBuffer());
    },
    async stream(name) {
      const r = await fetch(url(name));
      if (!r.ok || !r.body) throw new SourceError(`${name}: the server answered ${r.status} ${r.statusText}`);
      return r.body;
    },
  };
}

function blobSource(title: string, blobs: Map<string, Blob>): CheckpointSource {
  const get = (name: string): Blob => {
    const b = blobs.get(name);
    if (!b) throw new SourceError(`${name}: not in ${title}`);
    return b;
  };
  return {
    title,
    files: [...blobs].map(([name, b]) => ({ name, size: b.size })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    async read(name, start, end) {
      const b = get(name);
      return new Uint8Array(await (start === undefined ? b : b.slice(start, end)).arrayBuffer());
    },
    async stream(name) {
      return get(name).stream() as ReadableStream<Uint8Array>;
    },
  };
}

async function magicOf(f: Blob): Promise<Uint8Array> {
  return new Uint8Array(await f.slice(0, 4).arrayBuffer());
}

/**
 * Files dropped onto the page: the images of a dump directory, or one
 * archive (.tar or .tar.gz, as crtool dump --archive or a container engine
 * writes it). A .tar.zst cannot be read here: browsers have no zstd.
 */
export async function droppedSource(files: File[]): Promise<CheckpointSource> {
  if (files.length === 0) throw new SourceError("nothing was dropped");
  if (files.length === 1) {
    const f = files[0];
    const head = await magicOf(f);
    const zstd = head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd;
    if (zstd) throw new SourceError(`${f.name}: zstd archives are not supported in the page yet (browsers have no zstd); open it with crtool view ${f.name}`);
    try {
      if (head[0] === 0x1f && head[1] === 0x8b) {
        const plain = f.stream().pipeThrough(new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
        return blobSource(f.name, await tarMembersOfStream(plain));
      }
      if (f.size >= 512 && new TextDecoder().decode(new Uint8Array(await f.slice(257, 262).arrayBuffer())) === "ustar") return blobSource(f.name, await tarMembersOfBlob(f));
    } catch (e) {
      throw new SourceError(`${f.name}: ${e instanceof TarIndexError ? e.message : `not a readable archive (${(e as Error).message})`}`);
    }
  }
  return blobSource(files.length === 1 ? files[0].name : `${files.length} dropped files`, new Map(files.map((f) => [f.name, f])));
}
