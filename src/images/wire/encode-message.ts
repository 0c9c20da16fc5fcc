/**
 * ImageMessage → binary protobuf, as protobuf-c writes it: fields in
 * field-number order, required fields always, repeated scalars unpacked
 * unless the schema says packed, unknown fields back in number order.
 */
import { T, TYPE_NAMES } from "../schema/table-types.js";
import { MAKE_CODE_AFTER, W, type FieldType, type MessageType } from "../schema/message-type.js";
import { EncodeError } from "../errors.js";
import { InvalidUtf8, UNKNOWN_FIELDS, type ImageMessage, type UnknownField } from "./message.js";
import { Writer } from "./writer.js";
import { hasPlainFieldNames, makeFunction } from "../schema/code-per-type.js";

/** Value ranges of the integer types, as numbers (32-bit) and bigints (64-bit). */
const RANGE32: Partial<Record<number, [number, number]>> = {
  [T.UINT32]: [0, 0xffffffff],
  [T.FIXED32]: [0, 0xffffffff],
  [T.INT32]: [-0x80000000, 0x7fffffff],
  [T.SINT32]: [-0x80000000, 0x7fffffff],
  [T.SFIXED32]: [-0x80000000, 0x7fffffff],
  [T.ENUM]: [-0x80000000, 0x7fffffff],
};
const RANGE64: Partial<Record<number, [bigint, bigint]>> = {
  [T.UINT64]: [0n, 0xffffffffffffffffn],
  [T.FIXED64]: [0n, 0xffffffffffffffffn],
  [T.INT64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
  [T.SINT64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
  [T.SFIXED64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

/**
 * Where a message is: the top-level message's name, or the field that holds
 * it. Joined into a path only when there is an error to report.
 */
type Where = string | FieldAt;

/**
 * Where a field is: its message's place, its name and (in a list) its index.
 * Passed as three values and joined only on error, so encoding a field
 * allocates nothing (a dump encodes hundreds of thousands of them). A nested
 * message gets its parent's record as is: encoding is synchronous, so the
 * record still names that field when an error inside the message is reported.
 */
interface FieldAt {
  parent: Where;
  name: string;
  index: number;
}

function pathOf(w: Where): string {
  if (typeof w === "string") return w;
  return `${pathOf(w.parent)}.${w.name}${w.index >= 0 ? `[${w.index}]` : ""}`;
}

function fail(where: Where, why: string): never {
  throw new EncodeError(`${pathOf(where)}: ${why}`);
}

function typeLabel(f: FieldType): string {
  return f.kind === "enum" ? "an enum (int32)" : TYPE_NAMES[f.type];
}

function int32Of(where: FieldAt, f: FieldType, v: unknown): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) fail(where, `expected an integer, got ${typeof v === "number" ? v : typeof v}`);
  // Indexed, not destructured: destructuring goes through an iterator, and this runs for every field.
  const range = RANGE32[f.kind === "enum" ? T.ENUM : f.type]!;
  if (n < range[0] || n > range[1]) fail(where, `${v} does not fit in ${typeLabel(f)}`);
  return n;
}

function int64Of(where: FieldAt, f: FieldType, v: unknown): bigint {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isInteger(v)) b = BigInt(v);
  else fail(where, `expected an integer, got ${typeof v === "number" ? v : typeof v}`);
  const range = RANGE64[f.type]!;
  if (b < range[0] || b > range[1]) fail(where, `${b} does not fit in ${typeLabel(f)}`);
  return b;
}

function writeScalar(w: Writer, f: FieldType, v: unknown, where: FieldAt): void {
  if (f.kind === "enum") {
    w.int32(int32Of(where, f, v));
    return;
  }
  switch (f.type) {
    case T.UINT32: w.varint32(int32Of(where, f, v)); return;
    case T.INT32: w.int32(int32Of(where, f, v)); return;
    case T.SINT32: {
      const n = int32Of(where, f, v);
      w.varint32(((n << 1) ^ (n >> 31)) >>> 0);
      return;
    }
    case T.FIXED32:
    case T.SFIXED32: w.fixed32(int32Of(where, f, v)); return;
    case T.UINT64:
    case T.INT64: w.uint64(int64Of(where, f, v)); return;
    case T.SINT64: w.sint64(int64Of(where, f, v)); return;
    case T.FIXED64:
    case T.SFIXED64: w.fixed64(int64Of(where, f, v)); return;
    case T.BOOL:
      if (typeof v !== "boolean") fail(where, `expected a boolean, got ${typeof v}`);
      w.varint32(v ? 1 : 0);
      return;
    case T.STRING:
      if (v instanceof InvalidUtf8) w.bytes(v.bytes);
      else if (typeof v === "string") w.string(v);
      else fail(where, `expected a string, got ${typeof v}`);
      return;
    case T.BYTES:
      if (!(v instanceof Uint8Array)) fail(where, `expected bytes, got ${typeof v}`);
      w.bytes(v);
      return;
    case T.FLOAT:
      if (typeof v !== "number") fail(where, `expected a number, got ${typeof v}`);
      w.float(v);
      return;
    case T.DOUBLE:
      if (typeof v !== "number") fail(where, `expected a number, got ${typeof v}`);
      w.double(v);
      return;
  }
}

function writeUnknown(w: Writer, u: UnknownField): void {
  w.varint32(((u.no << 3) | u.wireType) >>> 0);
  w.raw(u.data);
}

function writeField(w: Writer, f: FieldType, value: unknown, where: FieldAt): void {
  w.varint32(((f.no << 3) | f.wireType) >>> 0);
  if (f.kind === "message") {
    if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
      fail(where, "expected a message object");
    }
    const start = w.begin();
    writeMessage(w, f.message!, value as ImageMessage, where);
    w.end(start);
    return;
  }
  writeScalar(w, f, value, where);
}

function writeGeneric(w: Writer, type: MessageType, msg: ImageMessage, where: Where): void {
  const unknown = msg[UNKNOWN_FIELDS];
  const pending = unknown && unknown.length ? [...unknown].sort((a, b) => a.no - b.no) : undefined;
  let u = 0;
  // One record per message, reused field after field.
  const here: FieldAt = { parent: where, name: "", index: -1 };
  for (const f of type.fields) {
    if (pending) while (u < pending.length && pending[u].no < f.no) writeUnknown(w, pending[u++]);
    const value = msg[f.name];
    here.name = f.name;
    here.index = -1;
    if (value === undefined || value === null) {
      if (f.required) fail(here, "required field is missing");
      continue;
    }
    if (!f.repeated) {
      writeField(w, f, value, here);
      continue;
    }
    writeRepeated(w, f, value, here);
  }
  if (pending) while (u < pending.length) writeUnknown(w, pending[u++]);
}

/** Writes one message of its type: the fields, in number order, with any unknown fields among them. */
type MessageWriter = (w: Writer, msg: ImageMessage, where: Where) => void;

/**
 * The fast path of one field, as source text, for `v` (neither undefined nor
 * null): the checks that hold for nearly every value, then the write. Any
 * other value takes writeField, which converts what it may (a bigint for a
 * 32-bit field) and names what it may not. undefined: always writeField.
 */
function fastWrite(f: FieldType, tag: number): string | undefined {
  const t = `w.varint32(${tag});`;
  if (f.kind === "enum") return `if (typeof v === "number" && (v | 0) === v) { ${t} w.int32(v); }`;
  if (f.kind === "message") return undefined;
  switch (f.type) {
    case T.UINT32: return `if (typeof v === "number" && v >>> 0 === v) { ${t} w.varint32(v); }`;
    case T.INT32: return `if (typeof v === "number" && (v | 0) === v) { ${t} w.int32(v); }`;
    case T.UINT64: return `if (typeof v === "bigint" && v >= 0n && v <= 0xffffffffffffffffn) { ${t} w.uint64(v); } else if (typeof v === "number" && v >>> 0 === v) { ${t} w.varint32(v); }`;
    case T.BOOL: return `if (typeof v === "boolean") { ${t} w.varint32(v ? 1 : 0); }`;
    case T.STRING: return `if (typeof v === "string") { ${t} w.string(v); }`;
    case T.BYTES: return `if (v instanceof Uint8Array) { ${t} w.bytes(v); }`;
    default: return undefined;
  }
}

/**
 * The encode loop unrolled for one message type, each field read by its name
 * (so V8 caches the load for the shape the type's messages share, where the
 * generic loop's load by a different key each time is megamorphic), with the
 * common values written inline. Repeated fields, nested messages, unusual
 * values and messages with unknown fields go through the generic code, which
 * gives the same bytes and the same errors. Where code cannot be made at run
 * time, the generic loop.
 */
function compileWriter(type: MessageType): MessageWriter {
  const generic: MessageWriter = (w, msg, where) => writeGeneric(w, type, msg, where);
  if (!hasPlainFieldNames(type)) return generic;
  let body = "";
  type.fields.forEach((f, i) => {
    const at = `{ parent: where, name: F[${i}].name, index: -1 }`;
    const missing = f.required ? `fail(${at}, "required field is missing");` : "";
    let write: string;
    if (f.repeated) write = `repeated(w, F[${i}], v, ${at});`;
    else {
      const fast = fastWrite(f, ((f.no << 3) | f.wireType) >>> 0);
      const slow = `field(w, F[${i}], v, ${at});`;
      write = fast ? `${fast} else ${slow}` : slow;
    }
    body += `v = m.${f.name};\nif (v === undefined || v === null) { ${missing} } else { ${write} }\n`;
  });
  const source = `return function (w, m, where) {
const unknown = m[UNKNOWN];
if (unknown !== undefined && unknown.length > 0) return generic(w, m, where);
let v;
${body}};`;
  const make = makeFunction(["F", "generic", "field", "repeated", "fail", "UNKNOWN"], source);
  return make ? (make(type.fields, generic, writeField, writeRepeated, fail, UNKNOWN_FIELDS) as MessageWriter) : generic;
}

/** A repeated field's values (v is neither undefined nor null), as writeGeneric writes them. */
function writeRepeated(w: Writer, f: FieldType, value: unknown, here: FieldAt): void {
  if (!Array.isArray(value)) fail(here, "expected a list");
  if (f.packed && f.kind !== "message") {
    if (value.length === 0) return;
    w.varint32(((f.no << 3) | W.LEN) >>> 0);
    const start = w.begin();
    for (let i = 0; i < value.length; i++) {
      here.index = i;
      writeScalar(w, f, value[i], here);
    }
    w.end(start);
  } else {
    for (let i = 0; i < value.length; i++) {
      here.index = i;
      writeField(w, f, value[i], here);
    }
  }
}

function writeMessage(w: Writer, type: MessageType, msg: ImageMessage, where: Where): void {
  const made = type.made;
  let write = made.encode as MessageWriter | undefined;
  if (write === undefined) {
    if (++made.encoded <= MAKE_CODE_AFTER) return writeGeneric(w, type, msg, where);
    made.encode = write = compileWriter(type);
  }
  write(w, msg, where);
}

/** Encodes one message; EncodeError names the offending field by path. */
export function encodeMessage(type: MessageType, msg: ImageMessage): Uint8Array {
  return encodeWith(writeMessage, type, msg);
}

/** One message through `write`, in the spare writer, copied out. */
function encodeWith(write: typeof writeGeneric, type: MessageType, msg: ImageMessage): Uint8Array {
  const w = takeWriter();
  try {
    write(w, type, msg, type.name);
    return w.finish();
  } finally {
    giveBack(w);
  }
}

/** A message as an image entry: its u32 little-endian length, then the message (one allocation). */
export function encodeEntry(type: MessageType, msg: ImageMessage): Uint8Array {
  const w = takeWriter();
  try {
    w.fixed32(0);
    writeMessage(w, type, msg, type.name);
    const out = w.finish();
    new DataView(out.buffer, out.byteOffset, 4).setUint32(0, out.length - 4, true);
    return out;
  } finally {
    giveBack(w);
  }
}

/**
 * A message as an image entry appended to `w` (the caller's own buffer, so
 * nothing is copied out); on an error `w` is left as it was.
 */
export function encodeEntryInto(w: Writer, type: MessageType, msg: ImageMessage): void {
  const start = w.pos;
  try {
    w.fixed32(0);
    writeMessage(w, type, msg, type.name);
  } catch (e) {
    w.pos = start;
    throw e;
  }
  w.patchU32(start, w.pos - start - 4);
}

/**
 * One writer reused for every entry: a dump encodes tens of thousands of
 * small messages, and a fresh buffer for each was a good part of its time
 * (finish() copies the bytes out, so reuse is safe).
 */
let spare: Writer | undefined = new Writer();
const SPARE_MAX = 1 << 20;

function takeWriter(): Writer {
  const w = spare ?? new Writer();
  spare = undefined;
  w.reset();
  return w;
}

function giveBack(w: Writer): void {
  // A writer grown by one huge entry is not kept.
  if (w.buf.length <= SPARE_MAX) spare = w;
}

/**
 * encodeMessage through the generic loop only, never code made for the type:
 * what a page that may not make code gets. Tests compare the two.
 */
export function encodeMessageGeneric(type: MessageType, msg: ImageMessage): Uint8Array {
  return encodeWith(writeGeneric, type, msg);
}
