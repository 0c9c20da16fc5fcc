/** In-process equivalents of `crit decode`/`encode`, for fast golden comparisons. */
import { ImageReader } from "../../src/images/image-reader.js";
import { imageToJson, jsonToImage } from "../../src/images/crit/document.js";

export async function decodeToString(bytes: Uint8Array, options: { pretty?: boolean; nopl?: boolean } = {}): Promise<string> {
  const reader = await ImageReader.open(bytes);
  let out = "";
  await imageToJson(reader, (t) => {
    out += t;
  }, options);
  return out;
}

export async function encodeFromString(json: string, chunkSize = 1 << 20): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  async function* chunks() {
    const bytes = Buffer.from(json, "utf8");
    for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
  }
  await jsonToImage(chunks(), (b) => {
    parts.push(b.slice());
  });
  return Buffer.concat(parts);
}
