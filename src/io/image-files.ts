/** Reading and writing image files from Node. */
import type { MagicName } from "../images/magic.js";
import { ImageEncoder } from "../images/image-encoder.js";
import { CrtoolError } from "../images/errors.js";
import type { ImageMessage } from "../images/wire/message.js";
import type { Payload } from "../images/payloads/layout.js";
import { fileOutput } from "./output.js";

export { openImage } from "./input.js";

export interface EntryToWrite {
  message: ImageMessage;
  payload?: Payload;
}

/**
 * Writes an image file atomically (temporary name, renamed when complete)
 * from entries that may arrive asynchronously; returns how many were written.
 */
export async function writeImageFile(
  path: string,
  magic: MagicName,
  entries: Iterable<EntryToWrite> | AsyncIterable<EntryToWrite>,
  mode = 0o600,
): Promise<number> {
  const encoder = new ImageEncoder(magic);
  const out = await fileOutput(path, mode);
  try {
    out.write(encoder.header());
    for await (const e of entries) for (const piece of encoder.entry(e.message, e.payload)) out.write(piece);
    await out.commit();
    return encoder.count;
  } catch (e) {
    await out.abort();
    throw e instanceof CrtoolError ? e.withLocation({ file: path }) : e;
  }
}
