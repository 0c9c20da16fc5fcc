/**
 * The filled slots of an array-like map of references (program tables,
 * device and CPU maps, socket arrays). No batch or next-key call lists only
 * those (an array's next key is every index), so each index is looked up:
 * an empty slot answers ENOENT. The value buffer is reused from slot to slot.
 */
import { mapLookupElem, stableBuffer } from "../../kernel/index.js";

export function* filledSlots(fd: number, maxEntries: number, valueSize: number): Generator<{ index: number; value: Buffer }> {
  const key = stableBuffer(4);
  const value = stableBuffer(Math.max(1, valueSize));
  for (let index = 0; index < maxEntries; index++) {
    key.writeUInt32LE(index, 0);
    if (mapLookupElem(fd, key, value)) yield { index, value };
  }
}
