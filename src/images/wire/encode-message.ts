/**
 * ImageMessage → binary protobuf, as protobuf-c writes it: fields in
 * field-number order, required fields always, repeated scalars unpacked
 * unless the schema says packed, unknown fields back in number order.
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { T, TYPE_NAMES } from "../schema/table-types.js";
import { EncodeError } from "../errors.js";
import type { FieldType, MessageType } from "../schema/message-type.js";
import { InvalidUtf8, UNKNOWN_FIELDS, type ImageMessage, type UnknownField } from "./message.js";

const utf8 = new TextEncoder();

const LIMITS: Partial<Record<number, [bigint, bigint]>> = {
  [T.UINT32]: [0n, 0xffffffffn],
  [T.FIXED32]: [0n, 0xffffffffn],
  [T.INT32]: [-0x80000000n, 0x7fffffffn],
  [T.SINT32]: [-0x80000000n, 0x7fffffffn],
  [T.SFIXED32]: [-0x80000000n, 0x7fffffffn],
  [T.UINT64]: [0n, 0xffffffffffffffffn],
  [T.FIXED64]: [0n, 0xffffffffffffffffn],
  [T.INT64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
  [T.SINT64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
  [T.SFIXED64]: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

function fail(path: string, why: string): never {
  throw new EncodeError(`${path}: ${why}`);
}

function checkInt(path: string, f: FieldType, v: unknown): number | bigint {
  if (typeof v === "number") {
    if (!Number.isInteger(v)) fail(path, `expected an integer, got ${v}`);
  } else if (typeof v !== "bigint") {
    fail(path, `expected an integer, got ${typeof v}`);
  }
  const lim = LIMITS[f.kind === "enum" ? T.INT32 : f.type]!;
  const b = BigInt(v);
  if (b < lim[0] || b > lim[1]) fail(path, `${b} does not fit in ${f.kind === "enum" ? "an enum (int32)" : TYPE_NAMES[f.type]}`);
  return f.is64 ? b : Number(b);
}

function writeScalar(w: BinaryWriter, f: FieldType, v: unknown, path: string): void {
  switch (f.kind === "enum" ? T.INT32 : f.type) {
    case T.UINT32: w.uint32(checkInt(path, f, v) as number); return;
    case T.INT32: w.int32(checkInt(path, f, v) as number); return;
    case T.SINT32: w.sint32(checkInt(path, f, v) as number); return;
    case T.FIXED32: w.fixed32(checkInt(path, f, v) as number); return;
    case T.SFIXED32: w.sfixed32(checkInt(path, f, v) as number); return;
    case T.UINT64: w.uint64(checkInt(path, f, v)); return;
    case T.INT64: w.int64(checkInt(path, f, v)); return;
    case T.SINT64: w.sint64(checkInt(path, f, v)); return;
    case T.FIXED64: w.fixed64(checkInt(path, f, v)); return;
    case T.SFIXED64: w.sfixed64(checkInt(path, f, v)); return;
    case T.BOOL:
      if (typeof v !== "boolean") fail(path, `expected a boolean, got ${typeof v}`);
      w.bool(v);
      return;
    case T.STRING:
      if (v instanceof InvalidUtf8) w.bytes(v.bytes);
      else if (typeof v === "string") w.bytes(utf8.encode(v));
      else fail(path, `expected a string, got ${typeof v}`);
      return;
    case T.BYTES:
      if (!(v instanceof Uint8Array)) fail(path, `expected bytes, got ${typeof v}`);
      w.bytes(v);
      return;
    case T.FLOAT:
      if (typeof v !== "number") fail(path, `expected a number, got ${typeof v}`);
      w.float(v);
      return;
    case T.DOUBLE:
      if (typeof v !== "number") fail(path, `expected a number, got ${typeof v}`);
      w.double(v);
      return;
  }
}

function writeUnknown(w: BinaryWriter, u: UnknownField): void {
  w.tag(u.no, u.wireType).raw(u.data);
}

function writeField(w: BinaryWriter, f: FieldType, value: unknown, path: string): void {
  if (f.kind === "message") {
    if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
      fail(path, "expected a message object");
    }
    w.tag(f.no, WireType.LengthDelimited).fork();
    writeMessage(w, f.message!, value as ImageMessage, path);
    w.join();
    return;
  }
  w.tag(f.no, f.wireType);
  writeScalar(w, f, value, path);
}

function writeMessage(w: BinaryWriter, type: MessageType, msg: ImageMessage, path: string): void {
  const unknown = msg[UNKNOWN_FIELDS];
  const pending = unknown && unknown.length ? [...unknown].sort((a, b) => a.no - b.no) : undefined;
  let u = 0;
  for (const f of type.fields) {
    if (pending) while (u < pending.length && pending[u].no < f.no) writeUnknown(w, pending[u++]);
    const value = msg[f.name];
    const fpath = `${path}.${f.name}`;
    if (value === undefined || value === null) {
      if (f.required) fail(fpath, "required field is missing");
      continue;
    }
    if (f.repeated) {
      if (!Array.isArray(value)) fail(fpath, "expected a list");
      if (f.packed && f.kind !== "message") {
        if (value.length === 0) continue;
        w.tag(f.no, WireType.LengthDelimited).fork();
        value.forEach((v, i) => writeScalar(w, f, v, `${fpath}[${i}]`));
        w.join();
      } else {
        value.forEach((v, i) => writeField(w, f, v, `${fpath}[${i}]`));
      }
    } else {
      writeField(w, f, value, fpath);
    }
  }
  if (pending) while (u < pending.length) writeUnknown(w, pending[u++]);
}

/** Encodes one message; EncodeError names the offending field by path. */
export function encodeMessage(type: MessageType, msg: ImageMessage): Uint8Array {
  const w = new BinaryWriter();
  writeMessage(w, type, msg, type.name);
  return w.finish();
}
