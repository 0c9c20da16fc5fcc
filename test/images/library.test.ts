/** The typed library API: images from paths, buffers and streams; writing images. */
import { describe, expect, it } from "vitest";
import { createReadStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Readable } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageReader, openImage, writeImageFile, type ImageEntry } from "../../src/index.js";
import { HAVE_FIXTURES, imagePath } from "../helpers/fixtures.js";

async function collect(reader: ImageReader): Promise<ImageEntry[]> {
  const out: ImageEntry[] = [];
  for await (const e of reader.entries()) out.push(e);
  return out;
}

describe.skipIf(!HAVE_FIXTURES)("library", () => {
  const path = imagePath("bpf-basic", "bpfmap-data.img");

  it("reads the same entries from a path, a buffer, a Node stream and a web stream", async () => {
    const fromPath = await collect(await openImage(path));
    const fromBuffer = await collect(await ImageReader.open(readFileSync(path)));
    const fromStream = await collect(await ImageReader.open(createReadStream(path, { highWaterMark: 7 })));
    const web = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
    const fromWeb = await collect(await ImageReader.open(web));
    expect(fromPath.length).toBe(3);
    for (const other of [fromBuffer, fromStream, fromWeb]) expect(other).toEqual(fromPath);
    const first = fromPath[0];
    expect(first.message).toEqual({ map_id: 158, keys_bytes: 20, values_bytes: 40, count: 5 });
    // Keys first, then values, in the kernel's hash order: key k has value 100k for k = 1, 2, 3.
    const data = Buffer.from(first.payload as Uint8Array);
    const pairs = new Map(Array.from({ length: 5 }, (_, i) => [data.readUInt32LE(4 * i), data.readBigUInt64LE(20 + 8 * i)]));
    expect(pairs.get(1)).toBe(100n);
    expect(pairs.get(3)).toBe(300n);
    expect(pairs.get(0xdeadbeef)).toBe(0xffffffffffffffffn);
  });

  it("streams a payload in pieces and knows where it is", async () => {
    const reader = await openImage(path);
    const head = (await reader.next())!;
    expect(head.layout).toEqual({ kind: "bytes", size: 60, align: 1 });
    expect(head.payloadOffset).toBe(8 + 4 + head.size);
    const pieces: Uint8Array[] = [];
    for await (const p of reader.payloadPieces(16)) pieces.push(p);
    expect(pieces.map((p) => p.length)).toEqual([16, 16, 16, 12]);
    expect((await reader.next())!.message.map_id).toBe(159);
  });

  it("writes an image file that reads back byte-identical", async () => {
    const entries = await collect(await openImage(path));
    const dir = mkdtempSync(join(tmpdir(), "crtool-lib-"));
    try {
      const out = join(dir, "bpfmap-data.img");
      expect(await writeImageFile(out, "BPFMAP_DATA", entries)).toBe(3);
      expect(readFileSync(out).equals(readFileSync(path))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
