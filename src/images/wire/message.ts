/**
 * The in-memory form of a decoded protobuf message: a plain object keyed by
 * proto field name (the same keys crit shows), holding
 *   - number for 32-bit integers and enums (the enum's number, known or not),
 *   - bigint for 64-bit integers,
 *   - boolean, string, Uint8Array (bytes), nested messages, arrays (repeated),
 *   - InvalidUtf8 for a `string` field whose bytes are not UTF-8 (paths can be
 *     any bytes; keeping them lets such images round-trip),
 * and, under the UNKNOWN_FIELDS symbol, fields the schema does not know.
 */

export const UNKNOWN_FIELDS: unique symbol = Symbol.for("crtool.unknownFields");

export interface UnknownField {
  readonly no: number;
  readonly wireType: number;
  /** The field's value bytes as they were on the wire (without the tag). */
  readonly data: Uint8Array;
}

export class InvalidUtf8 {
  constructor(readonly bytes: Uint8Array) {}
}

export type ScalarValue = number | bigint | boolean | string | Uint8Array | InvalidUtf8;
export type FieldValue = ScalarValue | ImageMessage | ScalarValue[] | ImageMessage[];

export interface ImageMessage {
  [field: string]: FieldValue | undefined;
  [UNKNOWN_FIELDS]?: UnknownField[];
}
