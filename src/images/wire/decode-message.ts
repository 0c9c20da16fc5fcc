/** Binary protobuf → ImageMessage, driven by a compiled MessageType. */
import { copyBytes } from "./bytes.js";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { T, TYPE_NAMES } from "../schema/table-types.js";
import { InvalidMessageError } from "../errors.js";
import type { FieldType, MessageType } from "../schema/message-type.js";
import { InvalidUtf8, UNKNOWN_FIELDS, type ImageMessage, type ScalarValue, type UnknownField } from "./message.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeString(bytes: Uint8Array): string | InvalidUtf8 {
  // Short ASCII strings dominate (paths, names): skip TextDecoder for them.
  let ascii = bytes.length < 64;
  if (ascii) for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) { ascii = false; break; }
  if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  try {
    return utf8.decode(bytes);
  } catch {
    return new InvalidUtf8(copyBytes(bytes));
  }
}

function readScalar(r: BinaryReader, t: number): ScalarValue {
  switch (t) {
    case T.ENUM: return r.int32();
    case T.UINT32: return r.uint32();
    case T.INT32: return r.int32();
    case T.SINT32: return r.sint32();
    case T.FIXED32: return r.fixed32();
    case T.SFIXED32: return r.sfixed32();
    case T.UINT64: return r.uint64() as bigint;
    case T.INT64: return r.int64() as bigint;
    case T.SINT64: return r.sint64() as bigint;
    case T.FIXED64: return r.fixed64() as bigint;
    case T.SFIXED64: return r.sfixed64() as bigint;
    case T.BOOL: return r.bool();
    case T.STRING: return decodeString(r.bytes());
    case T.BYTES: return copyBytes(r.bytes());
    case T.FLOAT: return r.float();
    case T.DOUBLE: return r.double();
    default: throw new RangeError(`unsupported field type ${t}`);
  }
}

function readMessage(r: BinaryReader, type: MessageType, end: number, depth: number): ImageMessage {
  if (depth > 64) throw new InvalidMessageError(`${type.name}: messages nested too deeply`);
  const msg: ImageMessage = {};
  let unknown: UnknownField[] | undefined;
  const dense = type.byNumberArray;
  while (r.pos < end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no === 0 || wt > 5) throw new RangeError(`illegal tag: field ${no}, wire type ${wt}`);
    const f = no < dense.length ? dense[no] : type.byNumber.get(no);
    const expected = f ? f.wireType : -1;
    if (f && wt === expected) {
      let value: ScalarValue | ImageMessage;
      if (f.kind === "message") {
        const len = r.uint32();
        const subEnd = r.pos + len;
        if (subEnd > end) throw new RangeError("premature EOF");
        value = readMessage(r, f.message!, subEnd, depth + 1);
        r.pos = subEnd;
      } else {
        value = readScalar(r, f.type);
      }
      if (f.repeated) {
        const list = (msg[f.name] as unknown[] | undefined) ?? (msg[f.name] = []);
        (list as unknown[]).push(value);
      } else {
        msg[f.name] = value;
      }
    } else if (f && f.repeated && f.kind !== "message" && wt === WireType.LengthDelimited && expected !== WireType.LengthDelimited) {
      // Packed encoding of a repeated scalar: accepted whatever the schema says.
      const len = r.uint32();
      const subEnd = r.pos + len;
      if (subEnd > end) throw new RangeError("premature EOF");
      const list = (msg[f.name] as ScalarValue[] | undefined) ?? [];
      while (r.pos < subEnd) list.push(readScalar(r, f.type));
      msg[f.name] = list;
    } else {
      const data = copyBytes(r.skip(wt, no));
      if (r.pos > end) throw new RangeError("premature EOF");
      (unknown ??= []).push({ no, wireType: wt, data });
    }
  }
  if (r.pos !== end) throw new RangeError("premature EOF");
  if (unknown) msg[UNKNOWN_FIELDS] = unknown;
  for (const f of type.requiredFields) {
    if (msg[f.name] === undefined) {
      throw new InvalidMessageError(`${type.name}: required field "${f.name}" (${f.no}) is missing`);
    }
  }
  return msg;
}

/**
 * Decodes one message. Throws InvalidMessageError (without location: the
 * framing layer adds file, entry and offset) when the bytes are not a valid
 * message of this type.
 */
export function decodeMessage(type: MessageType, bytes: Uint8Array): ImageMessage {
  return decodeMessageAt(new BinaryReader(bytes), type, 0, bytes.length);
}

/**
 * Decodes the message in bytes [start, end) of the reader's buffer. Lets a
 * caller decode many entries of one buffer with a single BinaryReader.
 */
export function decodeMessageAt(r: BinaryReader, type: MessageType, start: number, end: number): ImageMessage {
  r.pos = start;
  try {
    return readMessage(r, type, end, 0);
  } catch (e) {
    if (e instanceof InvalidMessageError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new InvalidMessageError(`invalid protobuf data for ${type.name} (${why})`);
  }
}
