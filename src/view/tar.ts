/**
 * Reading a checkpoint archive in the page: POSIX tar (ustar and pax
 * headers), the members that are checkpoint images (a crtool archive's
 * top-level files, a container archive's checkpoint/ and stats-dump) kept as
 * Blobs. A plain tar file is indexed by its headers only and its members are
 * slices of it; a decompressed stream is read once.
 */

export class TarIndexError extends Error {}

const BLOCK = 512;

/** The image a member stands for (see crtool's io/archive containerImageName), or undefined. */
export function imageMemberName(member: string): string | undefined {
  const n = member.replace(/^\.\//, "");
  const name = n.startsWith("checkpoint/") ? n.slice("checkpoint/".length) : /^[^/]+$/.test(n) && n !== "crtool-archive.json" && (n.endsWith(".img") || n === "stats-dump") ? n : undefined;
  return name && /^[A-Za-z0-9._-]+$/.test(name) ? name : undefined;
}

interface Header {
  name: string;
  size: number;
  type: string;
}

function field(b: Uint8Array, from: number, len: number): string {
  let end = from;
  while (end < from + len && b[end] !== 0) end++;
  return new TextDecoder().decode(b.subarray(from, end));
}

function octal(b: Uint8Array, from: number, len: number, at: number): number {
  // Base-256 (GNU) for sizes of 8 GiB and more.
  if (b[from] & 0x80) {
    let n = 0;
    for (let i = from + 1; i < from + len; i++) n = n * 256 + b[i];
    return n;
  }
  const t = field(b, from, len).trim();
  if (!/^[0-7]*$/.test(t)) throw new TarIndexError(`not a tar archive: the header at byte ${at} has size ${JSON.stringify(t)}`);
  return t ? parseInt(t, 8) : 0;
}

function parseHeader(b: Uint8Array, at: number): Header | undefined {
  if (b.every((x) => x === 0)) return undefined;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[i];
  if (sum !== octal(b, 148, 8, at)) throw new TarIndexError(`not a tar archive: bad header checksum at byte ${at}`);
  const prefix = field(b, 257, 6) === "ustar" ? field(b, 345, 155) : "";
  const name = field(b, 0, 100);
  return { name: prefix ? `${prefix}/${name}` : name, size: octal(b, 124, 12, at), type: String.fromCharCode(b[156] || 48) };
}

/** pax extended header records: "LEN key=value\n". */
function paxPath(data: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(data);
  for (const rec of text.split("\n")) {
    const m = /^\d+ path=(.*)$/.exec(rec);
    if (m) return m[1];
  }
  return undefined;
}

/** Walks the headers; `body(h, at)` gets each member's data offset. */
async function walk(read: (at: number, n: number) => Promise<Uint8Array | undefined>, take: (name: string, at: number, size: number) => Promise<void>, readBody: (at: number, n: number) => Promise<Uint8Array>): Promise<void> {
  let at = 0;
  let longName: string | undefined;
  for (;;) {
    const block = await read(at, BLOCK);
    if (!block || block.length < BLOCK) {
      if (!block || block.length === 0) throw new TarIndexError("the archive ends without its end-of-archive blocks: cut short");
      throw new TarIndexError(`cut short: a header at byte ${at} has ${block.length} of 512 bytes`);
    }
    const h = parseHeader(block, at);
    if (!h) return;
    const data = at + BLOCK;
    const next = data + Math.ceil(h.size / BLOCK) * BLOCK;
    if (h.type === "x") longName = paxPath(await readBody(data, h.size));
    else if (h.type === "L") longName = new TextDecoder().decode(await readBody(data, h.size)).replace(/\0+$/, "");
    else if (h.type === "g") {
      // Global pax headers name nothing.
    } else {
      const name = longName ?? h.name;
      longName = undefined;
      if (h.type === "0" || h.type === "7") await take(name, data, h.size);
    }
    at = next;
  }
}

/** The images of a tar file as slices of it (only the headers are read). */
export async function tarMembersOfBlob(file: Blob): Promise<Map<string, Blob>> {
  const out = new Map<string, Blob>();
  const read = async (at: number, n: number) => (at >= file.size ? undefined : new Uint8Array(await file.slice(at, at + n).arrayBuffer()));
  await walk(
    read,
    async (name, at, size) => {
      if (at + size > file.size) throw new TarIndexError(`cut short: ${name} should hold ${size} bytes, the archive ends after ${file.size - at}`);
      const image = imageMemberName(name);
      if (image) out.set(image, file.slice(at, at + size));
    },
    async (at, n) => (await read(at, n)) ?? new Uint8Array(0),
  );
  return out;
}

/** The images of a tar stream (a decompressed .tar.gz), each kept as a Blob. */
export async function tarMembersOfStream(stream: ReadableStream<Uint8Array>): Promise<Map<string, Blob>> {
  const reader = stream.getReader();
  let buf = new Uint8Array(0);
  let base = 0;
  let done = false;
  /** Makes buf hold [at, at + n) when the stream has it; drops what is before `at`. */
  const ensure = async (at: number, n: number): Promise<void> => {
    if (at > base) {
      buf = buf.subarray(Math.min(at - base, buf.length));
      base = at;
    }
    while (buf.length < n && !done) {
      const r = await reader.read();
      if (r.done) done = true;
      else {
        const joined = new Uint8Array(buf.length + r.value.length);
        joined.set(buf);
        joined.set(r.value, buf.length);
        buf = joined;
      }
    }
  };
  const out = new Map<string, Blob>();
  const read = async (at: number, n: number) => {
    await ensure(at, n);
    return buf.length === 0 && done ? undefined : buf.slice(0, Math.min(n, buf.length));
  };
  await walk(
    read,
    async (name, at, size) => {
      // Bodies are collected in pieces of at most 1 MiB so no single buffer grows with the image.
      const parts: Blob[] = [];
      let got = 0;
      while (got < size) {
        const n = Math.min(1 << 20, size - got);
        await ensure(at + got, n);
        if (buf.length < n) throw new TarIndexError(`cut short: ${name} should hold ${size} bytes, the archive ends after ${got + buf.length}`);
        parts.push(new Blob([buf.slice(0, n)]));
        got += n;
      }
      const image = imageMemberName(name);
      if (image) out.set(image, new Blob(parts));
    },
    async (at, n) => (await read(at, n)) ?? new Uint8Array(0),
  );
  reader.cancel().catch(() => {});
  return out;
}
