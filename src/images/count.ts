import type { ImageReader } from "./image-reader.js";

/**
 * Entries in an image, payloads skipped properly (crit counts every length
 * word, so a payload's bytes become bogus entries). Like crit, a pagemap's
 * head entry is not counted.
 */
export async function countEntries(reader: ImageReader): Promise<number> {
  let n = 0;
  for (;;) {
    let head = reader.nextSync();
    if (head === undefined) head = await reader.next();
    if (head === null) break;
    n++;
  }
  return reader.magic === "PAGEMAP" ? Math.max(0, n - 1) : n;
}
