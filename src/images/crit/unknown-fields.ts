/**
 * Fields a schema does not know travel through JSON as the base64 of their
 * raw wire bytes (tag and value), so decode → encode keeps them.
 */
import { copyBytes } from "../wire/bytes.js";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { JsonInputError } from "../errors.js";
import type { UnknownField } from "../wire/message.js";

export function encodeUnknownFields(fields: readonly UnknownField[]): Uint8Array {
  const w = new BinaryWriter();
  for (const u of fields) w.tag(u.no, u.wireType).raw(u.data);
  return w.finish();
}

export function decodeUnknownFields(bytes: Uint8Array): UnknownField[] {
  const r = new BinaryReader(bytes);
  const out: UnknownField[] = [];
  try {
    while (r.pos < r.len) {
      const [no, wireType] = r.tag();
      out.push({ no, wireType, data: copyBytes(r.skip(wireType, no)) });
    }
  } catch (e) {
    throw new JsonInputError(`"$unknown" does not hold valid protobuf fields (${(e as Error).message})`);
  }
  return out;
}
