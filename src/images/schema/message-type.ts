/**
 * A compiled view of a message's schema, shaped for the codec's hot loops
 * (binary decode/encode and crit JSON rendering): fields sorted by number,
 * with their `(criu)` options and enum tables resolved once. Built lazily from
 * the generated tables, so start-up does not pay for schemas it never uses.
 */
import { ENUMS, MESSAGE_TABLES, messageTable } from "./tables.js";
import { L, T, type CritOptionsTable } from "./table-types.js";

export type FieldKind = "scalar" | "enum" | "message";

/** Wire types (protobuf encoding). */
export const W = { VARINT: 0, BIT64: 1, LEN: 2, BIT32: 5 } as const;

export interface CritOptions {
  readonly hex: boolean;
  readonly ipadd: boolean;
  readonly dev: boolean;
  readonly odev: boolean;
  readonly flags?: string;
  readonly dict?: string;
  readonly conv?: string;
}

export interface FieldType {
  readonly no: number;
  /** The proto field name: also the crit JSON key and the key in decoded messages. */
  readonly name: string;
  readonly kind: FieldKind;
  /** The field's type (T.*); enums are T.ENUM, sub-messages T.MESSAGE. */
  readonly type: number;
  /** Wire type of one (unpacked) value of this field. */
  readonly wireType: number;
  readonly repeated: boolean;
  readonly packed: boolean;
  readonly required: boolean;
  /** 64-bit integer types decode to bigint. */
  readonly is64: boolean;
  /** An integer type that crit's pretty formats apply to (not bool, not enum). */
  readonly isInteger: boolean;
  readonly opts: CritOptions;
  /** Enum value names by number, and numbers by name (enum fields only). */
  readonly enumNames?: ReadonlyMap<number, string>;
  readonly enumNumbers?: ReadonlyMap<string, number>;
  /** Full name of the enum or message type. */
  readonly ref?: string;
  /** The sub-message type (message fields only), compiled on first use. */
  readonly message: MessageType | undefined;
  /** proto2 `[default = ...]` as written in the schema, if any. */
  readonly defaultText?: string;
}

export interface MessageType {
  readonly name: string;
  readonly fields: readonly FieldType[];
  readonly byNumber: ReadonlyMap<number, FieldType>;
  /** Fields indexed by number, for the decoder's hot loop (sparse array). */
  readonly byNumberArray: readonly (FieldType | undefined)[];
  readonly byName: ReadonlyMap<string, FieldType>;
  readonly requiredFields: readonly FieldType[];
  /**
   * Code made for this type at run time, kept with it (wire/decode-message.ts,
   * wire/encode-message.ts and crit/render-json.ts fill it): a property of an
   * object every type shares the shape of, which V8 reads faster than a
   * WeakMap lookup per message.
   */
  readonly made: MadeCode;
}

/**
 * See MessageType.made: each code slot is its owner's, undefined until made;
 * each count is how many messages its owner handled without it (code is
 * made once a type has had MAKE_CODE_AFTER messages: for the few messages of
 * a small image the generic loops cost less than making the code).
 */
export interface MadeCode {
  decode: unknown;
  encode: unknown;
  render: unknown;
  renderHumanized: unknown;
  decoded: number;
  encoded: number;
  rendered: number;
}

/** Messages of a type handled by the generic loops before code is made for the type. */
export let MAKE_CODE_AFTER = 16;

/**
 * Sets MAKE_CODE_AFTER; returns the value before. Tests set 0 so that every
 * message goes through the code made for its type (which the goldens then
 * check), whatever the type's count of messages in the fixtures.
 */
export function setMakeCodeAfter(n: number): number {
  const before = MAKE_CODE_AFTER;
  MAKE_CODE_AFTER = n;
  return before;
}

const NO_OPTIONS: CritOptions = { hex: false, ipadd: false, dev: false, odev: false };
const SIXTY_FOUR = new Set<number>([T.INT64, T.UINT64, T.SINT64, T.FIXED64, T.SFIXED64]);
const NOT_INTEGER = new Set<number>([T.BOOL, T.STRING, T.BYTES, T.FLOAT, T.DOUBLE, T.MESSAGE, T.ENUM]);

function wireTypeOf(type: number): number {
  switch (type) {
    case T.STRING:
    case T.BYTES:
    case T.MESSAGE:
      return W.LEN;
    case T.FIXED64:
    case T.SFIXED64:
    case T.DOUBLE:
      return W.BIT64;
    case T.FIXED32:
    case T.SFIXED32:
    case T.FLOAT:
      return W.BIT32;
    default:
      return W.VARINT;
  }
}

function optionsOf(o: CritOptionsTable | undefined): CritOptions {
  if (!o) return NO_OPTIONS;
  return { hex: !!o.hex, ipadd: !!o.ipadd, dev: !!o.dev, odev: !!o.odev, flags: o.flags, dict: o.dict, conv: o.conv };
}

const enumCache = new Map<string, { names: Map<number, string>; numbers: Map<string, number> }>();
function enumTables(name: string) {
  let e = enumCache.get(name);
  if (!e) {
    const values = ENUMS[name];
    if (!values) throw new Error(`enum ${name} is not in crtool's schema`);
    e = { names: new Map(values.map(([n, v]) => [v, n])), numbers: new Map(values.map(([n, v]) => [n, v])) };
    enumCache.set(name, e);
  }
  return e;
}

const compiled = new Map<string, MessageType>();

/** The compiled type of a message, by full proto name ("file_entry", "core_entry.tc"...). */
export function messageType(name: string): MessageType {
  let t = compiled.get(name);
  if (!t) {
    t = compile(name);
    compiled.set(name, t);
  }
  return t;
}

export function hasMessageType(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(MESSAGE_TABLES, name);
}

/**
 * A field of a message type. A class, so that every field has one hidden
 * class: an object literal with its own `get message()` gave each field a
 * map of its own, and every read of `f.no` or `f.type` in the codec's loops
 * went through V8's generic load stub (29% of encoding a BPF map's file
 * entry).
 */
class Field implements FieldType {
  constructor(
    readonly no: number,
    readonly name: string,
    readonly kind: FieldKind,
    readonly type: number,
    readonly wireType: number,
    readonly repeated: boolean,
    readonly packed: boolean,
    readonly required: boolean,
    readonly is64: boolean,
    readonly isInteger: boolean,
    readonly opts: CritOptions,
    readonly enumNames: ReadonlyMap<number, string> | undefined,
    readonly enumNumbers: ReadonlyMap<string, number> | undefined,
    readonly ref: string | undefined,
    readonly defaultText: string | undefined,
  ) {}

  /** The sub-message type once looked up (every field has the slot, so all share one hidden class). */
  private resolved: MessageType | undefined = undefined;

  /** Compiled on first use: message types refer to each other, some to themselves. */
  get message(): MessageType | undefined {
    if (this.kind !== "message") return undefined;
    return (this.resolved ??= messageType(this.ref!));
  }
}

function compile(name: string): MessageType {
  const table = messageTable(name);
  if (!table) throw new Error(`message ${name} is not in crtool's schema`);
  const fields: FieldType[] = table.map(([no, fname, type, label, extra]) => {
    const kind: FieldKind = type === T.MESSAGE ? "message" : type === T.ENUM ? "enum" : "scalar";
    const e = kind === "enum" ? enumTables(extra!.ref!) : undefined;
    const ref = extra?.ref;
    return new Field(
      no,
      fname,
      kind,
      type,
      wireTypeOf(type),
      label === L.REPEATED,
      extra?.packed === true,
      label === L.REQUIRED,
      SIXTY_FOUR.has(type),
      !NOT_INTEGER.has(type),
      optionsOf(extra?.opts),
      e?.names,
      e?.numbers,
      ref,
      extra?.default,
    );
  });
  fields.sort((a, b) => a.no - b.no);
  const max = fields.reduce((m, f) => Math.max(m, f.no), 0);
  // Field numbers in CRIU's schemas are small; larger ones use the Map.
  const dense: (FieldType | undefined)[] = new Array(Math.min(max, 1024) + 1).fill(undefined);
  for (const f of fields) if (f.no <= 1024) dense[f.no] = f;
  return {
    name,
    fields,
    byNumber: new Map(fields.map((f) => [f.no, f])),
    byNumberArray: dense,
    byName: new Map(fields.map((f) => [f.name, f])),
    requiredFields: fields.filter((f) => f.required),
    made: { decode: undefined, encode: undefined, render: undefined, renderHumanized: undefined, decoded: 0, encoded: 0, rendered: 0 },
  };
}
