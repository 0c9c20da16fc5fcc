import { ImageReader } from "./image-reader.js";
import type { ImageMessage } from "./wire/message.js";

/** Every entry message of an in-memory image (payloads skipped). */
export async function readImageMessages(bytes: Uint8Array, name?: string): Promise<ImageMessage[]> {
  const reader = await ImageReader.open(bytes, { name });
  const out: ImageMessage[] = [];
  for (;;) {
    const head = await reader.next();
    if (!head) return out;
    out.push(head.message);
  }
}
