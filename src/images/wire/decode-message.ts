/** Binary protobuf → ImageMessage, driven by a compiled MessageType. */
import { copyBytes } from "./bytes.js";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { T, TYPE_NAMES } from "../schema/table-types.js";
import { InvalidMessageError } from "../errors.js";
import { MAKE_CODE_AFTER, type FieldType, type MessageType } from "../schema/message-type.js";
import { hasPlainFieldNames, makeFunction } from "../schema/code-per-type.js";
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

/** One message's bytes [r.pos, end), field by field as the schema says. */
type MessageReader = (r: BinaryReader, end: number, depth: number) => ImageMessage;

function readField(r: BinaryReader, f: FieldType, end: number, depth: number): ScalarValue | ImageMessage {
  if (f.kind !== "message") return readScalar(r, f.type);
  const len = r.uint32();
  const subEnd = r.pos + len;
  if (subEnd > end) throw new RangeError("premature EOF");
  const value = readMessage(r, f.message!, subEnd, depth + 1);
  r.pos = subEnd;
  return value;
}

/**
 * A field whose tag the fast path did not take: a field of the schema sent
 * with another wire type (packed repeated scalars), or one it does not know
 * (kept, with its bytes, as unknown). Returns the unknown list.
 */
function readOther(r: BinaryReader, type: MessageType, msg: ImageMessage, tag: number, end: number, depth: number, unknown: UnknownField[] | undefined): UnknownField[] | undefined {
  const no = tag >>> 3;
  const wt = tag & 7;
  if (no === 0 || wt > 5) throw new RangeError(`illegal tag: field ${no}, wire type ${wt}`);
  const f = no < type.byNumberArray.length ? type.byNumberArray[no] : type.byNumber.get(no);
  const expected = f ? f.wireType : -1;
  if (f && wt === expected) {
    const value = readField(r, f, end, depth);
    if (f.repeated) ((msg[f.name] as unknown[] | undefined) ?? (msg[f.name] = [])).push(value);
    else msg[f.name] = value;
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
  return unknown;
}

function finish(type: MessageType, msg: ImageMessage, r: BinaryReader, end: number, unknown: UnknownField[] | undefined): ImageMessage {
  if (r.pos !== end) throw new RangeError("premature EOF");
  if (unknown) msg[UNKNOWN_FIELDS] = unknown;
  for (const f of type.requiredFields) {
    if (msg[f.name] === undefined) {
      throw new InvalidMessageError(`${type.name}: required field "${f.name}" (${f.no}) is missing`);
    }
  }
  return msg;
}

function readGeneric(r: BinaryReader, type: MessageType, end: number, depth: number): ImageMessage {
  const msg: ImageMessage = {};
  let unknown: UnknownField[] | undefined;
  while (r.pos < end) unknown = readOther(r, type, msg, r.uint32(), end, depth, unknown);
  return finish(type, msg, r, end, unknown);
}

function genericReader(type: MessageType): MessageReader {
  return (r, end, depth) => readGeneric(r, type, end, depth);
}

/** The reader call of a scalar type, as source text. */
const SCALAR_READS: Readonly<Record<number, string>> = {
  [T.ENUM]: "r.int32()",
  [T.UINT32]: "r.uint32()",
  [T.INT32]: "r.int32()",
  [T.SINT32]: "r.sint32()",
  [T.FIXED32]: "r.fixed32()",
  [T.SFIXED32]: "r.sfixed32()",
  [T.UINT64]: "r.uint64()",
  [T.INT64]: "r.int64()",
  [T.SINT64]: "r.sint64()",
  [T.FIXED64]: "r.fixed64()",
  [T.SFIXED64]: "r.sfixed64()",
  [T.BOOL]: "r.bool()",
  [T.STRING]: "str(r.bytes())",
  [T.BYTES]: "copy(r.bytes())",
  [T.FLOAT]: "r.float()",
  [T.DOUBLE]: "r.double()",
};

/**
 * The decode loop unrolled for one message type: a switch on the whole tag
 * and each field stored by its name, so that V8 caches every store for the
 * shape the type's messages share instead of a store by a different key each
 * time. Anything else (other wire types, unknown fields) takes readOther.
 * Where code cannot be made at run time (a page whose
 * Content-Security-Policy forbids it), the generic loop.
 */
function compileReader(type: MessageType): MessageReader {
  if (!hasPlainFieldNames(type)) return genericReader(type);
  let cases = "";
  type.fields.forEach((f, i) => {
    const tag = ((f.no << 3) | f.wireType) >>> 0;
    const value = f.kind === "message" ? `field(r, F[${i}], end, depth)` : SCALAR_READS[f.type];
    if (value === undefined) return;
    cases += f.repeated
      ? `case ${tag}: (m.${f.name} ??= []).push(${value}); break;\n`
      : `case ${tag}: m.${f.name} = ${value}; break;\n`;
  });
  const body = `return function (r, end, depth) {
const m = {};
let unknown;
while (r.pos < end) {
const tag = r.uint32();
switch (tag) {
${cases}default: unknown = other(r, type, m, tag, end, depth, unknown);
}
}
return finish(type, m, r, end, unknown);
};`;
  const make = makeFunction(["type", "F", "field", "other", "finish", "str", "copy"], body);
  return make ? (make(type, type.fields, readField, readOther, finish, decodeString, copyBytes) as MessageReader) : genericReader(type);
}

function readMessage(r: BinaryReader, type: MessageType, end: number, depth: number): ImageMessage {
  if (depth > 64) throw new InvalidMessageError(`${type.name}: messages nested too deeply`);
  const made = type.made;
  let read = made.decode as MessageReader | undefined;
  if (read === undefined) {
    if (++made.decoded <= MAKE_CODE_AFTER) return readGeneric(r, type, end, depth);
    made.decode = read = compileReader(type);
  }
  return read(r, end, depth);
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
