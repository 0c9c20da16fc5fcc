/**
 * A payload that is skipped (restore looking for one map among many,
 * `crit show --nopl`) is not read when the source can move ahead: a file
 * read by position. Offsets, the entries after it and truncation errors stay
 * what they were.
 */
import { describe, expect, it } from "vitest";
import { ImageReader, encodeImage, type SkippableSource } from "../../src/images/index.js";

const MIB = 1 << 20;

/** The bytes in chunks, by position, counting what is handed out. */
class CountingSource implements SkippableSource {
  delivered = 0;
  private position = 0;
  constructor(private readonly bytes: Uint8Array, private readonly chunk = 256 * 1024) {}
  skipAhead(n: number): void {
    this.position += n;
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    while (this.position < this.bytes.length) {
      const piece = this.bytes.subarray(this.position, Math.min(this.bytes.length, this.position + this.chunk));
      this.position += piece.length;
      this.delivered += piece.length;
      yield piece;
    }
  }
}

function pipesData(sizes: number[]): Uint8Array {
  return encodeImage("PIPES_DATA", sizes.map((n, i) => ({ message: { pipe_id: i + 1, bytes: n }, payload: new Uint8Array(n).fill(i + 1) })));
}

describe("skipping payloads", () => {
  it("moves past 2 x 3 MiB payloads without reading them, and reads the one after them whole", async () => {
    const image = pipesData([3 * MIB, 3 * MIB, 1000]);
    const source = new CountingSource(image);
    const reader = await ImageReader.open(source, { size: image.length });
    for (let i = 0; i < 2; i++) {
      expect((await reader.next())!.message.pipe_id).toBe(i + 1);
      expect(await reader.skipPayload()).toBe(3 * MIB);
    }
    const third = (await reader.next())!;
    expect(third.message.pipe_id).toBe(3);
    expect(await reader.readPayload()).toEqual(new Uint8Array(1000).fill(3));
    expect(await reader.next()).toBeNull();
    expect(source.delivered).toBeLessThan(MIB);
  });

  it("reads through a source that cannot move ahead, with the same result", async () => {
    const image = pipesData([3 * MIB, 1000]);
    async function* plain() {
      for (let o = 0; o < image.length; o += 65536) yield image.subarray(o, o + 65536);
    }
    const reader = await ImageReader.open(plain(), { size: image.length });
    await reader.next();
    expect(await reader.skipPayload()).toBe(3 * MIB);
    expect((await reader.next())!.message.pipe_id).toBe(2);
    expect(await reader.readPayload()).toEqual(new Uint8Array(1000).fill(2));
  });

  it("still says a skipped payload is truncated", async () => {
    const image = pipesData([3 * MIB]).subarray(0, 2 * MIB);
    const reader = await ImageReader.open(new CountingSource(image), { size: image.length, name: "pipes-data.img" });
    await reader.next();
    await expect(reader.skipPayload()).rejects.toThrow(/^pipes-data\.img, entry 0, offset 19: truncated payload of pipe_data_entry: expected 3145728 bytes, the input ends after 2097133$/);
  });
});
