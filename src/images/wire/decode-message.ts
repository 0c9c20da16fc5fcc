/** Binary protobuf → ImageMessage, driven by a compiled MessageType. */
import { copyBytes } from "./bytes.js";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { T, TYPE_NAMES } from "../schema/table-types.js";
import { InvalidMessageError } from "../errors.js";
import type { FieldType, MessageType } from "../schema/message-type.js";
import { hasPlainFieldNames, makeFunction } from "../schema/code-per-type.js";
import { InvalidUtf8, UNKNOWN_FIELDS, type ImageMessage, type ScalarValue, type UnknownField } from "./message.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A BinaryReader whose bytes the decoder reads directly (readUint64). */
export class WireReader extends BinaryReader {
  get wire(): Uint8Array {
    return this.buf;
  }
}

/**
 * An unsigned 64-bit varint, as BinaryReader.uint64() reads it (the same
 * bytes, the same bounds check and errors) without the [lo, hi] array and
 * the DataView round trip it makes per value: uint64 fields (addresses,
 * offsets, sizes) are in most entries of the largest images.
 */
function readUint64(r: WireReader): bigint {
  const buf = r.wire;
  let pos = r.pos;
  let lo = 0;
  let b: number;
  for (let shift = 0; shift < 28; shift += 7) {
    b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return uint64At(r, pos, lo, 0);
  }
  b = buf[pos++]!;
  lo |= (b & 0x0f) << 28;
  let hi = (b & 0x70) >> 4;
  if ((b & 0x80) === 0) return uint64At(r, pos, lo, hi);
  for (let shift = 3; shift <= 31; shift += 7) {
    b = buf[pos++]!;
    hi |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return uint64At(r, pos, lo, hi);
  }
  r.pos = pos;
  throw new Error("invalid varint");
}

function uint64At(r: WireReader, pos: number, lo: number, hi: number): bigint {
  r.pos = pos;
  // Past the buffer the bytes read were undefined (taken as 0), as BinaryReader reads them, and refused the same way.
  if (pos > r.len) throw new RangeError("premature EOF");
  const high = hi >>> 0;
  const low = lo >>> 0;
  // Below 2^53 the Number is exact: one BigInt made, not three.
  return high < 0x200000 ? BigInt(high * 4294967296 + low) : (BigInt(high) << 32n) | BigInt(low);
}

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

function readScalar(r: WireReader, t: number): ScalarValue {
  switch (t) {
    case T.ENUM: return r.int32();
    case T.UINT32: return r.uint32();
    case T.INT32: return r.int32();
    case T.SINT32: return r.sint32();
    case T.FIXED32: return r.fixed32();
    case T.SFIXED32: return r.sfixed32();
    case T.UINT64: return readUint64(r);
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
type MessageReader = (r: WireReader, end: number, depth: number) => ImageMessage;

function readField(r: WireReader, f: FieldType, end: number, depth: number): ScalarValue | ImageMessage {
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
function readOther(r: WireReader, type: MessageType, msg: ImageMessage, tag: number, end: number, depth: number, unknown: UnknownField[] | undefined): UnknownField[] | undefined {
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

function finish(type: MessageType, msg: ImageMessage, r: WireReader, end: number, unknown: UnknownField[] | undefined): ImageMessage {
  if (r.pos !== end) throw new RangeError("premature EOF");
  if (unknown) msg[UNKNOWN_FIELDS] = unknown;
  for (const f of type.requiredFields) if (msg[f.name] === undefined) missingField(type, f);
  return msg;
}

function missingField(type: MessageType, f: FieldType): never {
  throw new InvalidMessageError(`${type.name}: required field "${f.name}" (${f.no}) is missing`);
}

function genericReader(type: MessageType): MessageReader {
  return (r, end, depth) => {
    const msg: ImageMessage = {};
    let unknown: UnknownField[] | undefined;
    while (r.pos < end) unknown = readOther(r, type, msg, r.uint32(), end, depth, unknown);
    return finish(type, msg, r, end, unknown);
  };
}

/** The reader call of a scalar type, as source text. */
const SCALAR_READS: Readonly<Record<number, string>> = {
  [T.ENUM]: "r.int32()",
  [T.UINT32]: "r.uint32()",
  [T.INT32]: "r.int32()",
  [T.SINT32]: "r.sint32()",
  [T.FIXED32]: "r.fixed32()",
  [T.SFIXED32]: "r.sfixed32()",
  [T.UINT64]: "u64(r)",
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
  // finish(), written out: each required field checked by its name, in the schema's order.
  let required = "";
  for (const f of type.requiredFields) required += `if (m.${f.name} === undefined) missing(type, F[${type.fields.indexOf(f)}]);\n`;
  const body = `return function (r, end, depth) {
const m = {};
let unknown;
while (r.pos < end) {
const tag = r.uint32();
switch (tag) {
${cases}default: unknown = other(r, type, m, tag, end, depth, unknown);
}
}
if (r.pos !== end) throw new RangeError("premature EOF");
if (unknown) m[UNKNOWN] = unknown;
${required}return m;
};`;
  const make = makeFunction(["type", "F", "field", "other", "missing", "str", "copy", "u64", "UNKNOWN"], body);
  return make ? (make(type, type.fields, readField, readOther, missingField, decodeString, copyBytes, readUint64, UNKNOWN_FIELDS) as MessageReader) : genericReader(type);
}

const readers = new WeakMap<MessageType, MessageReader>();

function readMessage(r: WireReader, type: MessageType, end: number, depth: number): ImageMessage {
  if (depth > 64) throw new InvalidMessageError(`${type.name}: messages nested too deeply`);
  let read = readers.get(type);
  if (!read) readers.set(type, (read = compileReader(type)));
  return read(r, end, depth);
}

/**
 * Decodes one message. Throws InvalidMessageError (without location: the
 * framing layer adds file, entry and offset) when the bytes are not a valid
 * message of this type.
 */
export function decodeMessage(type: MessageType, bytes: Uint8Array): ImageMessage {
  return decodeMessageAt(new WireReader(bytes), type, 0, bytes.length);
}

/**
 * Decodes the message in bytes [start, end) of the reader's buffer. Lets a
 * caller decode many entries of one buffer with a single BinaryReader.
 */
export function decodeMessageAt(r: WireReader, type: MessageType, start: number, end: number): ImageMessage {
  r.pos = start;
  try {
    return readMessage(r, type, end, 0);
  } catch (e) {
    if (e instanceof InvalidMessageError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new InvalidMessageError(`invalid protobuf data for ${type.name} (${why})`);
  }
}
